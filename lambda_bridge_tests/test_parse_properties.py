"""Property tests: for arbitrary lines, nothing is lost and nothing is counted twice."""

import json

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lambda_bridge.contracts import ContractRegistry
from lambda_bridge.parse import BOM, GZIP_MAGIC, JSON_WHITESPACE, parse_object

REGISTRY = ContractRegistry.load()
SHIPMENTS = REGISTRY["shipments"]
TRANSACTIONS = REGISTRY["transactions"]

text = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\n"), max_size=12)
offsets = st.sampled_from(["Z", "+00:00", "+05:30", "-08:00", ""])


@st.composite
def valid_shipments(draw) -> bytes:
    record = {
        "record_type": "shipments",
        "event_time": f"2026-01-{draw(st.integers(1, 28)):02d}T{draw(st.integers(0, 23)):02d}:00:00{draw(offsets)}",
        "shipment_id": "shp_" + draw(st.text("abc123", min_size=1, max_size=8)),
        "origin": draw(text),
        "destination": draw(text),
    }
    if draw(st.booleans()):
        record["carrier"] = draw(st.none() | text)
    if draw(st.booleans()):
        record["weight_kg"] = draw(
            st.none()
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.integers(-(2**53), 2**53)
        )
    if draw(st.booleans()):
        record["extra"] = draw(st.dictionaries(text, st.integers(), max_size=2))
    return json.dumps(record, ensure_ascii=draw(st.booleans())).encode()


@st.composite
def invalid_lines(draw) -> bytes:
    kind = draw(
        st.sampled_from(
            ["truncate", "wrong_type", "missing", "array", "bytes", "scalar", "nan", "bad_time"]
        )
    )
    good = json.loads(draw(valid_shipments()))
    if kind == "truncate":
        raw = json.dumps(good).encode()
        return raw[: draw(st.integers(1, len(raw) - 1))]
    if kind == "wrong_type":
        good[draw(st.sampled_from(["origin", "shipment_id", "event_time"]))] = draw(
            st.integers() | st.booleans() | st.lists(st.integers(), max_size=2)
        )
    if kind == "missing":
        del good[
            draw(
                st.sampled_from(
                    ["origin", "destination", "event_time", "shipment_id", "record_type"]
                )
            )
        ]
    if kind == "array":
        return json.dumps(list(good.values())).encode()
    if kind == "bytes":
        return draw(st.binary(min_size=1, max_size=40).filter(lambda b: b"\n" not in b))
    if kind == "scalar":
        return json.dumps(draw(st.integers() | text | st.none())).encode()
    if kind == "nan":
        return json.dumps(good).encode()[:-1] + b', "weight_kg": NaN}'
    if kind == "bad_time":
        good["event_time"] = draw(
            st.sampled_from(["", "2026-02-30T00:00:00Z", "noon", "2026-01-01T25:00:00Z"])
        )
    return json.dumps(good).encode()


lines_strategy = st.lists(
    st.one_of(
        valid_shipments().map(lambda b: ("valid", b)),
        invalid_lines().map(lambda b: ("other", b)),
        st.sampled_from([b"", b"  ", b"\r", b"\t "]).map(lambda b: ("blank", b)),
    ),
    max_size=30,
)


def _nonblank(line: bytes) -> bool:
    text = line.strip(JSON_WHITESPACE)
    return bool(text.removeprefix(BOM).strip(JSON_WHITESPACE))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=lines_strategy, crlf=st.booleans(), final_newline=st.booleans())
def test_every_line_ends_in_silver_or_quarantine_exactly_once(lines, crlf, final_newline):
    sep = b"\r\n" if crlf else b"\n"
    data = sep.join(line for _, line in lines) + (sep if final_newline and lines else b"")
    assume(not data.startswith(GZIP_MAGIC))  # that is a gzip file, tested on its own
    result = parse_object(data, SHIPMENTS, "jsonl")

    expected = [no for no, (_, line) in enumerate(lines, 1) if _nonblank(line)]
    assert result.lines_in == len(expected)
    assert result.rows_out + result.rows_quarantined == result.lines_in
    silver_lines = result.lines.tolist()
    quarantined = [b.line for b in result.bad]
    assert sorted(silver_lines + quarantined) == expected  # each record once, none lost
    valid = [no for no, (kind, _) in enumerate(lines, 1) if kind == "valid"]
    assert set(valid) <= set(silver_lines)  # no valid line is lost
    ids = dict(zip(silver_lines, result.table.column("shipment_id").to_pylist(), strict=True))
    for no in valid:
        assert ids[no] == json.loads(lines[no - 1][1])["shipment_id"]


@settings(max_examples=150, deadline=None)
@given(lines=lines_strategy)
def test_a_lines_verdict_does_not_depend_on_its_neighbours(lines):
    data = b"\n".join(line for _, line in lines)
    together = parse_object(data, SHIPMENTS, "jsonl")
    verdicts = {b.line: b.code for b in together.bad}
    for no, (_, line) in enumerate(lines, 1):
        if not _nonblank(line) or line.startswith(GZIP_MAGIC):
            continue  # alone, a line starting like gzip is a (broken) gzip file
        alone = parse_object(line, SHIPMENTS, "jsonl")
        alone_verdict = alone.bad[0].code if alone.bad else None
        assert verdicts.get(no) == alone_verdict, line


csv_cell = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters='\n\r"'), max_size=10
)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.one_of(
            st.tuples(st.just("valid"), st.builds(
                lambda i, amount: f"t{i},acc_1,2026-01-05T03:00:00Z,{amount},USD,m,c,true".encode(),
                st.integers(0, 10**6), st.decimals(-(10**6), 10**6, places=2, allow_nan=False, allow_infinity=False),
            )),
            st.tuples(st.just("other"), st.lists(csv_cell, max_size=10).map(lambda cells: ",".join(cells).encode())),
            st.tuples(st.just("other"), st.binary(max_size=30).filter(lambda b: b"\n" not in b and b'"' not in b and b"\r" not in b)),
        ),
        max_size=25,
    )
)  # fmt: skip
def test_csv_conserves_every_row(rows):
    header = b"transaction_id,account_id,booked_at,amount,currency,merchant,category,is_refund"
    data = b"\n".join([header, *(row for _, row in rows)])
    result = parse_object(data, TRANSACTIONS, "csv")
    assert result.rows_out + result.rows_quarantined == result.lines_in
    silver = set(result.lines.tolist())
    assert silver.isdisjoint({b.line for b in result.bad})
    valid = {no for no, (kind, _) in enumerate(rows, 2) if kind == "valid"}
    assert valid <= silver


@st.composite
def timestampish(draw) -> str:
    """Mostly plausible ISO 8601 timestamps, with parts dropped, malformed or out of range."""
    two = st.integers(0, 99).map(lambda n: f"{n:02d}")
    date = f"{draw(st.integers(1990, 2100))}-{draw(st.integers(1, 12).map(lambda n: f'{n:02d}') | two)}-{draw(st.integers(1, 28).map(lambda n: f'{n:02d}') | two)}"
    if draw(st.booleans()):
        return date
    sep = draw(st.sampled_from(["T", " ", "t"]))
    time = draw(st.integers(0, 23).map(lambda n: f"{n:02d}") | two)
    for _ in range(draw(st.integers(0, 2))):
        time += draw(st.sampled_from([":", ""])) + draw(
            st.integers(0, 59).map(lambda n: f"{n:02d}") | two
        )
    if draw(st.booleans()):
        time += draw(st.sampled_from([".", ","])) + draw(st.text("0123456789", max_size=10))
    zone = draw(st.sampled_from(["", "Z", "z", "+01:00", "-0530", "+01", "+24:00"]))
    return date + sep + time + zone


@settings(max_examples=400, deadline=None)
@given(value=timestampish() | st.text(max_size=25), target=st.sampled_from(["timestamp", "date"]))
def test_a_cast_verdict_does_not_depend_on_the_rest_of_the_column(value, target):
    """A whole column casts directly; one with a bad value is screened first. Same verdicts."""
    import pyarrow as pa

    from lambda_bridge.contracts import parse_type
    from lambda_bridge.parse import cast_strings

    arrow_type = parse_type(target)
    alone, alone_failed = cast_strings(pa.array([value]), arrow_type)
    mixed, mixed_failed = cast_strings(pa.array([value, "not a time"]), arrow_type)
    assert bool(alone_failed[0]) == bool(mixed_failed[0]), value
    assert alone[0].as_py() == mixed[0].as_py()
