"""The ingest -> transform queue message: a small JSON pointer, never record payloads."""

import json
from dataclasses import asdict, dataclass
from typing import Any

from lambda_bridge.exceptions import MessageError

MESSAGE_VERSION = 1


@dataclass(frozen=True)
class Pointer:
    """One bronze object (or one chunk of it) to transform."""

    dataset: str
    bucket: str
    key: str
    version_id: str | None
    etag: str | None
    size: int | None
    dt: str | None
    chunk: int | None = None

    def to_json(self) -> str:
        body: dict[str, Any] = {"v": MESSAGE_VERSION, **asdict(self)}
        if self.chunk is None:
            del body["chunk"]
        return json.dumps(body, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Pointer":
        try:
            body = json.loads(text)
        except (TypeError, ValueError) as exc:
            msg = f"queue message is not JSON: {exc}"
            raise MessageError(msg) from None
        if not isinstance(body, dict):
            msg = f"queue message must be a JSON object, got {type(body).__name__}"
            raise MessageError(msg)
        if body.get("v") != MESSAGE_VERSION:
            msg = (
                f"unsupported queue message version {body.get('v')!r} (expected {MESSAGE_VERSION})"
            )
            raise MessageError(msg)
        for name in ("dataset", "bucket", "key"):
            if not isinstance(body.get(name), str) or not body[name]:
                msg = f"queue message field {name!r} must be a non-empty string, got {body.get(name)!r}"
                raise MessageError(msg)
        size = body.get("size")
        chunk = body.get("chunk")
        return cls(
            dataset=body["dataset"],
            bucket=body["bucket"],
            key=body["key"],
            version_id=body.get("version_id") or None,
            etag=body.get("etag") or None,
            size=int(size) if isinstance(size, int) else None,
            dt=body.get("dt") or None,
            chunk=int(chunk) if isinstance(chunk, int) else None,
        )
