"""Realistic sample events for the example datasets, with bad lines of known kinds mixed in.

Deterministic for a seed, so tests and benchmarks can state exactly what they expect: a
`GeneratedFile` says how many records it offers and how many of them are bad, by kind.
"""

import csv
import datetime as dt
import gzip
import io
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lambda_bridge.contracts import FORMATS

AIRPORTS = [
    "SZX",
    "PVG",
    "HKG",
    "LAX",
    "SEA",
    "JFK",
    "ORD",
    "FRA",
    "AMS",
    "LHR",
    "NRT",
    "SIN",
    "DXB",
    "ATL",
    "MEM",
    "ANC",
]
CARRIERS = ["UPS", "FedEx", "DHL", "USPS", "Maersk", "DB Schenker"]
STATUSES = ["created", "picked_up", "in_transit", "out_for_delivery", "delivered", "exception"]
CHARGES = ["freight", "fuel_surcharge", "customs", "handling", "insurance"]
CURRENCIES = ["USD", "EUR", "GBP"]
MERCHANTS = [
    "Acme Freight",
    "Blue Dock Storage",
    "Harbor Fuel",
    "Customs Broker LLC",
    "Pallet & Co",
    "Café Transit",
]
CATEGORIES = ["freight", "fuel", "storage", "customs", "fees"]
# The reference data behind the transactions: every merchant they name, with its category and
# country, and a USD rate for every currency a transaction or an invoice line is in.
MERCHANT_DETAILS = {
    "Acme Freight": ("freight", "US"),
    "Blue Dock Storage": ("storage", "NL"),
    "Harbor Fuel": ("fuel", "US"),
    "Customs Broker LLC": ("customs", "GB"),
    "Pallet & Co": ("fees", "DE"),
    "Café Transit": ("freight", "FR"),
}
USD_PER_UNIT = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "CNY": 0.138}
FX_CURRENCIES = tuple(USD_PER_UNIT)
COORDS = {"SZX": (22.64, 113.81), "PVG": (31.14, 121.81), "HKG": (22.31, 113.91), "LAX": (33.94, -118.41),
          "SEA": (47.45, -122.31), "JFK": (40.64, -73.78), "ORD": (41.98, -87.90), "FRA": (50.04, 8.56),
          "AMS": (52.31, 4.76), "LHR": (51.47, -0.45), "NRT": (35.77, 140.39), "SIN": (1.36, 103.99),
          "DXB": (25.25, 55.36), "ATL": (33.64, -84.43), "MEM": (35.04, -89.98), "ANC": (61.17, -149.99)}  # fmt: skip
OFFSETS = ["Z", "+00:00", "+08:00", "-05:00", "+01:00"]

JSON_BAD_KINDS = (
    "json_decode",
    "not_an_object",
    "missing_required",
    "type_mismatch",
    "bad_timestamp",
    "encoding",
)
ARRAY_BAD_KINDS = ("not_an_object", "missing_required", "type_mismatch", "bad_timestamp")
CSV_BAD_KINDS = ("column_count", "type_mismatch", "missing_required", "encoding")
# What each injected kind is quarantined as (`_error_code`).
EXPECTED_CODE = {
    "json_decode": "json_decode",
    "not_an_object": "not_an_object",
    "missing_required": "missing_required",
    "type_mismatch": "type_mismatch",
    "bad_timestamp": "type_mismatch",
    "encoding": "encoding",
    "column_count": "column_count",
}
DATASETS = (
    "shipments",
    "tracking_events",
    "invoice_lines",
    "transactions",
    "fx_rates",
    "merchants",
)


@dataclass
class GeneratedFile:
    """A generated bronze file and what it holds."""

    data: bytes
    records: int
    bad: Counter = field(default_factory=Counter)

    @property
    def bad_total(self) -> int:
        return sum(self.bad.values())

    def expected_codes(self) -> Counter:
        codes: Counter = Counter()
        for kind, n in self.bad.items():
            codes[EXPECTED_CODE[kind]] += n
        return codes


def _ts(rng: random.Random, day: dt.date) -> str:
    moment = dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(
        seconds=rng.randrange(86400)
    )
    offset = rng.choice(OFFSETS)
    if offset == "Z":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    sign = 1 if offset[0] == "+" else -1
    delta = dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])) * sign
    local = moment.astimezone(dt.timezone(delta))
    return local.isoformat(timespec="seconds")


def _id(rng: random.Random, prefix: str, n: int = 12) -> str:
    return prefix + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


def _shipment(rng: random.Random, day: dt.date, i: int) -> dict[str, Any]:
    origin, destination = rng.sample(AIRPORTS, 2)
    return {
        "record_type": "shipments",
        "event_time": _ts(rng, day),
        "shipment_id": _id(rng, "shp_"),
        "origin": origin,
        "destination": destination,
        "carrier": rng.choice(CARRIERS),
        "weight_kg": round(rng.lognormvariate(2.5, 1.0), 2),
    }


def _tracking(rng: random.Random, day: dt.date, i: int) -> dict[str, Any]:
    where = rng.choice(AIRPORTS)
    lat, lon = COORDS[where]
    record: dict[str, Any] = {
        "event_id": _id(rng, "evt_", 16),
        "shipment_id": _id(rng, "shp_"),
        "event_time": _ts(rng, day),
        "status": rng.choice(STATUSES),
        "location": where,
        "latitude": round(lat + rng.uniform(-0.05, 0.05), 5),
        "longitude": round(lon + rng.uniform(-0.05, 0.05), 5),
    }
    if rng.random() < 0.3:
        record["tags"] = rng.sample(["fragile", "priority", "hazmat", "cold_chain", "oversize"], 2)
    return record


def _invoice_line(rng: random.Random, day: dt.date, i: int) -> dict[str, Any]:
    return {
        "invoice_id": f"inv_{day:%Y%m%d}_{i // 4:05d}",
        "line_no": i % 4 + 1,
        "shipment_id": _id(rng, "shp_"),
        "invoice_date": day.isoformat(),
        "charge_type": rng.choice(CHARGES),
        "quantity": rng.randint(1, 20),
        "unit_price": round(rng.uniform(5, 900), 2),
        "currency": rng.choice(["USD", "EUR", "GBP", "CNY"]),
    }


def _transaction(rng: random.Random, day: dt.date, i: int) -> dict[str, Any]:
    refund = rng.random() < 0.05
    amount = round(rng.uniform(3, 2500), 2) * (-1 if refund else 1)
    moment = dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(
        seconds=rng.randrange(86400)
    )
    return {
        "transaction_id": _id(rng, "txn_", 16),
        "account_id": f"acc_{rng.randint(1000, 9999)}",
        "booked_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "amount": f"{amount:.2f}",
        "currency": rng.choice(CURRENCIES),
        "merchant": rng.choice(MERCHANTS),
        "category": rng.choice(CATEGORIES),
        "is_refund": "true" if refund else "false",
    }


def _fx_rate(rng: random.Random, day: dt.date, i: int) -> dict[str, Any]:
    """Record i: currency i mod n on day `day` minus i div n, so n*k records cover k days up to
    `day` (inclusive) for every currency; USD is exactly 1."""
    currency = FX_CURRENCIES[i % len(FX_CURRENCIES)]
    rate = USD_PER_UNIT[currency]
    if currency != "USD":
        rate *= 1 + rng.uniform(-0.02, 0.02)
    return {
        "rate_date": (day - dt.timedelta(days=i // len(FX_CURRENCIES))).isoformat(),
        "currency": currency,
        # A string, not a JSON number: eight decimals must reach the decimal column exactly.
        "usd_per_unit": f"{rate:.8f}",
    }


def _merchant(rng: random.Random, day: dt.date, i: int) -> dict[str, Any]:
    """Record i: merchant i mod n. Past n records the same merchants repeat unchanged (a full
    re-send of the master data), so any count covers every merchant transactions name once
    count >= n."""
    name = MERCHANTS[i % len(MERCHANTS)]
    category, country = MERCHANT_DETAILS[name]
    return {
        "merchant": name,
        "category": category,
        "country": country,
        "onboarded_on": (
            dt.date(2024, 1, 1) + dt.timedelta(days=7 * (i % len(MERCHANTS)))
        ).isoformat(),
    }


GENERATORS: dict[str, Callable[[random.Random, dt.date, int], dict[str, Any]]] = {
    "shipments": _shipment,
    "tracking_events": _tracking,
    "invoice_lines": _invoice_line,
    "transactions": _transaction,
    "fx_rates": _fx_rate,
    "merchants": _merchant,
}
# For each dataset: a required field to drop, a string field to make a number, the timestamp.
_FIELDS = {
    "shipments": ("shipment_id", "origin", "event_time"),
    "tracking_events": ("event_id", "status", "event_time"),
    "invoice_lines": ("invoice_id", "charge_type", "invoice_date"),
    "transactions": ("transaction_id", "currency", "booked_at"),
    "fx_rates": ("currency", "currency", "rate_date"),
    "merchants": ("merchant", "category", "onboarded_on"),
}


def _spoil_json(record: dict[str, Any], kind: str, dataset: str, rng: random.Random) -> bytes:
    required, string_field, time_field = _FIELDS[dataset]
    if kind == "json_decode":
        text = json.dumps(record)
        return text[: rng.randint(5, len(text) - 2)].encode()
    if kind == "not_an_object":
        return json.dumps(list(record.values())[:3]).encode()
    bad = dict(record)
    if kind == "missing_required":
        del bad[required]
    elif kind == "type_mismatch":
        bad[string_field] = rng.randint(1, 999)
    elif kind == "bad_timestamp":
        bad[time_field] = rng.choice(["yesterday", "2026-13-45T99:00:00Z", "05/01/2026 10:00"])
    elif kind == "encoding":
        return json.dumps(bad, ensure_ascii=False).encode().replace(b'"', b'"\xff\xfe', 1)
    return json.dumps(bad).encode()


def generate(
    dataset: str,
    fmt: str = "jsonl",
    count: int = 100,
    *,
    bad_ratio: float = 0.0,
    seed: int = 0,
    day: dt.date | None = None,
    compress: bool = False,
) -> GeneratedFile:
    """Generate one bronze file of `count` records, about `bad_ratio` of them bad.

    Args:
        dataset: One of DATASETS.
        fmt: `jsonl`, `json` (an array) or `csv` (transactions only).
        count: Records offered, bad ones included.
        bad_ratio: Share of bad records, spread over the kinds the format can hold.
        seed: Random seed; the same arguments give the same bytes.
        day: The date the events happen on (default: today, UTC).
        compress: gzip the result.
    """
    if dataset not in GENERATORS:
        msg = f"unknown dataset {dataset!r} (known: {', '.join(DATASETS)})"
        raise ValueError(msg)
    if fmt not in FORMATS:
        msg = f"unknown format {fmt!r} (known: {', '.join(FORMATS)})"
        raise ValueError(msg)
    if (fmt == "csv") != (dataset == "transactions"):
        msg = f"dataset {dataset!r} is not sent as {fmt}: transactions are CSV, the others JSON"
        raise ValueError(msg)
    if not 0 <= bad_ratio <= 1:
        msg = f"bad ratio must be between 0 and 1, got {bad_ratio}"
        raise ValueError(msg)
    rng = random.Random(seed)
    day = day or dt.datetime.now(dt.UTC).date()
    n_bad = round(count * bad_ratio)
    if bad_ratio > 0 and n_bad == 0 and count > 0:
        n_bad = 1
    bad_positions = set(rng.sample(range(count), n_bad)) if n_bad else set()
    kinds = {"jsonl": JSON_BAD_KINDS, "json": ARRAY_BAD_KINDS, "csv": CSV_BAD_KINDS}[fmt]
    make = GENERATORS[dataset]
    bad: Counter = Counter()
    if fmt == "csv":
        data = _render_csv(dataset, rng, day, count, bad_positions, kinds, bad)
    else:
        items: list[bytes] = []
        for i in range(count):
            record = make(rng, day, i)
            if i in bad_positions:
                kind = kinds[sum(bad.values()) % len(kinds)]
                bad[kind] += 1
                items.append(_spoil_json(record, kind, dataset, rng))
            else:
                items.append(json.dumps(record).encode())
        if fmt == "jsonl":
            data = b"\n".join(items) + (b"\n" if items else b"")
        else:
            data = b"[\n" + b",\n".join(items) + b"\n]\n"
    if compress:
        data = gzip.compress(data, mtime=0)
    return GeneratedFile(data=data, records=count, bad=bad)


def _render_csv(
    dataset: str,
    rng: random.Random,
    day: dt.date,
    count: int,
    bad_positions: set[int],
    kinds: tuple[str, ...],
    bad: Counter,
) -> bytes:
    buffer = io.StringIO()
    columns = list(_transaction(random.Random(0), day, 0))
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    encoding_rows: list[int] = []
    for i in range(count):
        row = _transaction(rng, day, i)
        values = [row[c] for c in columns]
        if i in bad_positions:
            kind = kinds[sum(bad.values()) % len(kinds)]
            bad[kind] += 1
            if kind == "column_count":
                values = values[:-2]
            elif kind == "type_mismatch":
                values[columns.index("amount")] = rng.choice(["n/a", "12,50", "ten"])
            elif kind == "missing_required":
                values[columns.index("transaction_id")] = ""
            elif kind == "encoding":
                encoding_rows.append(i)
                values[columns.index("merchant")] = "\x00ENCODING\x00"
        writer.writerow(values)
    data = buffer.getvalue().encode("utf-8")
    # A producer exporting Latin-1: the byte is not valid UTF-8.
    return data.replace(b"\x00ENCODING\x00", b"Caf\xe9 Transit")
