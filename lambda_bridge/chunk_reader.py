"""Reading one chunk of a split object from S3 (the transform's side of lambda_bridge.chunks).

Apart from the planning, so the ingest Lambda, which only plans, imports no S3 reads.
"""

from typing import Any

from lambda_bridge.chunks import Chunk

# Past a chunk's end, its last line is read on in pieces of this size until its newline.
TAIL_READ_BYTES = 1024 * 1024


def read_chunk(s3: Any, request: dict[str, Any], chunk: Chunk) -> tuple[bytes, dict[str, Any]]:
    """The bytes of the lines that start inside `chunk`, and the first ranged GET's response
    (its version, ETag, LastModified and `ContentRange` total describe the object).

    `request` is the GET's Bucket/Key/VersionId; every later range reads the version the first
    one returned, so a new version landing meanwhile cannot mix into this one.

    Raises:
        botocore.exceptions.ClientError: S3 failed, or the object is gone (the caller decides).
    """
    head_from = max(chunk.start - 1, 0)  # the byte before start says whether a line starts there
    response = s3.get_object(**request, Range=f"bytes={head_from}-{chunk.end - 1}")
    data = response["Body"].read()
    size = object_size(response)
    pinned = dict(request)
    version = response.get("VersionId")
    if version and version != "null":
        pinned["VersionId"] = version
    else:
        etag = response.get("ETag")
        if etag:
            pinned["IfMatch"] = etag
    if chunk.start > 0:
        newline = data.find(b"\n")
        if newline < 0:
            return b"", response  # a line that started before this chunk covers all of it
        data = data[newline + 1 :]
    if not data or data.endswith(b"\n") or chunk.end >= size:
        return data, response
    parts, position = [data], chunk.end
    while position < size:
        last = min(position + TAIL_READ_BYTES, size) - 1
        piece = s3.get_object(**pinned, Range=f"bytes={position}-{last}")["Body"].read()
        newline = piece.find(b"\n")
        if newline >= 0:
            parts.append(piece[: newline + 1])
            break
        parts.append(piece)
        position = last + 1
    return b"".join(parts), response


def object_size(response: dict[str, Any]) -> int:
    """The whole object's size from a ranged GET (`Content-Range: bytes a-b/total`)."""
    content_range = str(response.get("ContentRange") or "")
    if "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        if total.isdigit():
            return int(total)
    return int(response.get("ContentLength") or 0)
