"""Contract type names (`int64`, `decimal(12,2)`, `list<string>`, `struct<a: int64>`) to Arrow."""

import re

import pyarrow as pa

_SCALARS: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int64": pa.int64(),
    "int32": pa.int32(),
    "float64": pa.float64(),
    "float32": pa.float32(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}


def parse_type(text: str) -> pa.DataType:
    """Turn a contract type (`int64`, `decimal(12,2)`, `list<string>`, `struct<a: int64>`) into Arrow.

    Raises:
        ValueError: the text is not a known type.
    """
    parser = _TypeParser(text)
    result = parser.parse()
    if parser.pos != len(parser.text):
        msg = f"unexpected {parser.text[parser.pos :]!r} in type {text!r}"
        raise ValueError(msg)
    return result


class _TypeParser:
    def __init__(self, text: str) -> None:
        self.text = text.replace(" ", "")
        self.pos = 0

    def _word(self) -> str:
        match = re.compile(r"[a-z_][a-z0-9_]*").match(self.text, self.pos)
        if not match:
            msg = f"expected a type name at {self.text[self.pos :]!r}"
            raise ValueError(msg)
        self.pos = match.end()
        return match.group()

    def _expect(self, char: str) -> None:
        if not self.text.startswith(char, self.pos):
            msg = f"expected {char!r} at {self.text[self.pos :]!r}"
            raise ValueError(msg)
        self.pos += 1

    def parse(self) -> pa.DataType:
        word = self._word()
        if word in _SCALARS:
            return _SCALARS[word]
        if word == "decimal":
            match = re.compile(r"\((\d+),(\d+)\)").match(self.text, self.pos)
            if not match:
                msg = "decimal needs a precision and scale, e.g. decimal(12,2)"
                raise ValueError(msg)
            self.pos = match.end()
            precision, scale = int(match.group(1)), int(match.group(2))
            if not 1 <= precision <= 38 or not 0 <= scale <= precision:
                msg = f"decimal({precision},{scale}) is out of range (precision 1..38, scale 0..precision)"
                raise ValueError(msg)
            return pa.decimal128(precision, scale)
        if word == "list":
            self._expect("<")
            inner = self.parse()
            self._expect(">")
            return pa.list_(inner)
        if word == "struct":
            self._expect("<")
            fields = []
            while True:
                name = self._word()
                self._expect(":")
                fields.append(pa.field(name, self.parse()))
                if self.text.startswith(">", self.pos):
                    self.pos += 1
                    return pa.struct(fields)
                self._expect(",")
        msg = f"unknown type {word!r} (known: {', '.join([*_SCALARS, 'decimal(p,s)', 'list<T>', 'struct<..>'])})"
        raise ValueError(msg)
