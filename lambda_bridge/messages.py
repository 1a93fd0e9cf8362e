"""The ingest -> transform queue message: a small JSON pointer, never record payloads."""

import json
from typing import Annotated, Literal

import msgspec

from lambda_bridge.chunks import Chunk
from lambda_bridge.exceptions import MessageError
from lambda_bridge.validation import locate

MESSAGE_VERSION = 1

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class Pointer(msgspec.Struct, frozen=True):
    """One bronze object (or one chunk of it) to transform."""

    dataset: NonEmpty
    bucket: NonEmpty
    key: NonEmpty
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    dt: str | None = None
    chunk: Chunk | None = None
    v: Literal[1] = MESSAGE_VERSION

    def to_json(self) -> str:
        """The message body: sorted keys, no spaces, `chunk` only when the object is split."""
        body = msgspec.structs.asdict(self)
        if self.chunk is None:
            del body["chunk"]
        else:
            body["chunk"] = self.chunk.to_dict()
        # The json module, not msgspec: its ASCII escapes keep characters an S3 key may hold but
        # an SQS body may not (U+FFFE, U+FFFF) out of the message.
        return json.dumps(body, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> "Pointer":
        """Read a message body.

        Raises:
            MessageError: the body is not JSON, not of this version, or a field is missing or
                of the wrong type; the message names the field.
        """
        try:
            # The version first: another version's fields may differ, and that is what to say.
            _ENVELOPE.decode(text)
            pointer = _POINTER.decode(text)
        except msgspec.ValidationError as exc:
            raise _invalid(exc) from None
        except (msgspec.DecodeError, UnicodeDecodeError, TypeError) as exc:
            msg = f"queue message is not JSON: {exc}"
            raise MessageError(msg) from None
        # An empty version, etag or date means none, as the ingest Lambda writes it.
        return msgspec.structs.replace(
            pointer,
            version_id=pointer.version_id or None,
            etag=pointer.etag or None,
            dt=pointer.dt or None,
        )


class _Envelope(msgspec.Struct):
    v: Literal[1]


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_POINTER = msgspec.json.Decoder(Pointer)


def _invalid(exc: msgspec.ValidationError) -> MessageError:
    where, problem = locate(exc)
    if not where:
        return MessageError(f"queue message must be a JSON object: {problem}")
    if where == "v":
        return MessageError(
            f"unsupported queue message version (field 'v': {problem}; expected {MESSAGE_VERSION})"
        )
    return MessageError(f"queue message field {where!r}: {problem}")
