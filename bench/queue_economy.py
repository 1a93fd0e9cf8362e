"""Section 3: queue and idempotency traffic per 1M records, computed from how the code calls AWS.

Nothing here is timed. Our side follows lambda_bridge: the ingest Lambda sends one pointer
message per object (`Ingester._enqueue`, one SendMessage each), and Powertools' idempotency
costs one conditional PutItem when the record is claimed (`save_inprogress` -> `_put_record`)
and one UpdateItem when it completes (`save_success` -> `_update_record`): see
aws_lambda_powertools/utilities/idempotency/base.py `_process_idempotency` and
persistence/dynamodb.py. Section 5 counts the DynamoDB calls on the embedded stack to confirm.
"""

import math
from typing import Any

from bench.common import Figure
from bench.report import Section, figure_table
from lambda_bridge.messages import Pointer

RECORDS = 1_000_000
RECORDS_PER_OBJECT = 10_000
SQS_BATCH = 10  # SendMessageBatch, ReceiveMessage and DeleteMessageBatch take at most 10
IDEMPOTENCY_WRITES_PER_ITEM = 2  # PutItem (claim) + UpdateItem (completed)
SQS_BILLING_CHUNK = 64 * 1024  # SQS bills each 64 KiB of a request's payload as one request


def traffic(
    records: int = RECORDS, per_object: int = RECORDS_PER_OBJECT
) -> dict[str, dict[str, int]]:
    """SQS messages and requests, transform invocations and idempotency writes, both designs.

    Empty receives of idle pollers are left out: both designs pay them alike.
    """
    objects = math.ceil(records / per_object)
    ours_batches = math.ceil(objects / SQS_BATCH)
    record_batches = math.ceil(records / SQS_BATCH)
    return {
        "ours": {
            "messages": objects,
            # One SendMessage per object, then the event source mapping's receive and delete.
            "requests": objects + 2 * ours_batches,
            "invocations": ours_batches,
            "ddb_writes": IDEMPOTENCY_WRITES_PER_ITEM * objects,
        },
        "per_record": {
            "messages": records,
            # SendMessageBatch of 10, ReceiveMessage of 10, DeleteMessageBatch of 10.
            "requests": 3 * record_batches,
            "invocations": record_batches,
            "ddb_writes": IDEMPOTENCY_WRITES_PER_ITEM * records,
        },
    }


def _pointer_bytes() -> int:
    pointer = Pointer(
        dataset="shipments",
        bucket="acme-elt-prod-bronze",
        key="bronze/shipments/dt=2026-05-01/carrier-feed-2026-05-01T12-00-00Z-000123.jsonl",
        version_id="3HL4kqtJlcpXroDTDmjVBH40Nrjfkd06",
        etag="9b2cf535f27731c974343645a3985328",
        size=1_850_000,
        dt="2026-05-01",
    )
    return len(pointer.to_json().encode())


def section(measured: dict[str, Any] | None) -> Section:
    t = traffic()
    per = f"per {RECORDS:,} records"
    figs = [
        Figure("queue", f"SQS messages {per}", t["ours"]["messages"], "messages",
               "one message per record", t["per_record"]["messages"]),
        Figure("queue", f"SQS requests {per}", t["ours"]["requests"], "requests",
               "one message per record (batches of 10)", t["per_record"]["requests"]),
        Figure("queue", f"transform invocations {per} (batch size {SQS_BATCH})",
               t["ours"]["invocations"], "invocations",
               "one message per record", t["per_record"]["invocations"]),
        Figure("queue", f"DynamoDB idempotency writes {per}", t["ours"]["ddb_writes"], "writes",
               "idempotency per record", t["per_record"]["ddb_writes"]),
        Figure("queue", "DynamoDB writes per object", IDEMPOTENCY_WRITES_PER_ITEM, "writes",
               "idempotency per record", IDEMPOTENCY_WRITES_PER_ITEM * RECORDS_PER_OBJECT),
    ]  # fmt: skip
    if measured and measured.get("objects"):
        writes = measured["ddb_writes"] / measured["objects"]
        figs.append(
            Figure("queue", "DynamoDB writes per object, counted on the embedded stack", writes,
                   "writes", "Powertools code (PutItem + UpdateItem)", IDEMPOTENCY_WRITES_PER_ITEM,
                   note=f"{measured['ddb_calls']} over {measured['objects']} objects")
        )  # fmt: skip
    pointer = _pointer_bytes()
    body = "\n".join(
        [
            figure_table(figs),
            "",
            f"Assumptions: objects of {RECORDS_PER_OBJECT:,} records (~1.9 MB of shipments), SQS"
            f" batch size {SQS_BATCH} on the transform's event source mapping, Powertools"
            " idempotency on the ingest Lambda (one record per object version). The per-record"
            " design sends with SendMessageBatch of 10 and has Lambda delete in batches of 10;"
            " idle polling is left out of both. Ratio = ours / per-record.",
            "",
            f"A pointer message is {pointer} bytes, one 64 KiB billing chunk. For objects of N"
            f" records, ours costs 1 + 2/{SQS_BATCH} SQS requests and {IDEMPOTENCY_WRITES_PER_ITEM}"
            " DynamoDB writes per object, i.e. per record divided by N; the per-record design"
            " costs 0.3 requests per record whatever the object size. A duplicate S3 delivery"
            " costs one more (failed, still billed) conditional PutItem and nothing else:"
            " Powertools reads the existing record from `ReturnValuesOnConditionCheckFailure`.",
        ]
    )
    return Section(3, "Queue economy", figs, body)
