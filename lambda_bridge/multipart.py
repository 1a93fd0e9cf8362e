"""An S3 object written a part at a time, in memory bounded by a part: a file-like sink that
sends each part to a multipart upload as soon as it fills.

Nothing is at the key until `commit`, and `abort` leaves nothing, so a streamed object's files
are still committed by its manifest (DESIGN §3). No local file is involved: the Lambdas write
nothing to disk.
"""

from typing import Any

# S3's minimum part is 5 MiB (except the last).
PART_BYTES = 8 << 20


class PartUpload:
    """Bytes written to `key`: one PutObject if they never fill a part, else a multipart upload.

    It has the `write` that pyarrow's ParquetWriter writes through.
    """

    def __init__(self, s3: Any, bucket: str, key: str, part_bytes: int | None = None) -> None:
        self._s3, self._bucket, self._key = s3, bucket, key
        self._part_bytes = part_bytes or PART_BYTES
        self._out = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._out += data
        if len(self._out) >= self._part_bytes:
            self._send()
        return len(data)

    def flush(self) -> None:
        """Parts go out as they fill; the rest waits for `commit`."""

    def close(self) -> None:
        """A writer done with the sink decides nothing: `commit` or `abort` does."""

    def _send(self) -> None:
        if self._upload_id is None:
            started = self._s3.create_multipart_upload(Bucket=self._bucket, Key=self._key)
            self._upload_id = started["UploadId"]
        number = len(self._parts) + 1
        sent = self._s3.upload_part(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
            PartNumber=number, Body=bytes(self._out),
        )  # fmt: skip
        self._parts.append({"ETag": sent["ETag"], "PartNumber": number})
        self._out = bytearray()

    def commit(self) -> None:
        """Put the object at its key."""
        if self._upload_id is None:
            self._s3.put_object(Bucket=self._bucket, Key=self._key, Body=bytes(self._out))
        else:
            if self._out:
                self._send()
            self._s3.complete_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )  # fmt: skip
            self._upload_id = None
        self._out = bytearray()
        self.closed = True

    def abort(self) -> None:
        """Drop what was sent (nothing to do once committed, or when no part went out)."""
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=upload_id)
        self._out = bytearray()
        self.closed = True
