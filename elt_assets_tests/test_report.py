import io
import json

import boto3
import pytest
from moto import mock_aws

from elt_assets.lib.report import DatasetDay, render_chart, render_markdown, write_report

DAY = "2026-05-01"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def datasets():
    return [
        DatasetDay(
            dataset="shipments",
            dt=DAY,
            objects=3,
            lines_in=1200,
            rows_out=1164,
            rows_quarantined=36,
            quarantine_by_code={"json_decode": 20, "missing_required": 16},
            checks=[
                {"name": "expect_column_values_to_not_be_null", "passed": True, "description": ""},
                {
                    "name": "quarantine_rate",
                    "passed": True,
                    "description": "3.00% <= 5.00%",
                },
            ],
            silver_bytes=48_213,
        ),
        DatasetDay(
            dataset="transactions",
            dt=DAY,
            objects=1,
            lines_in=500,
            rows_out=480,
            rows_quarantined=20,
            quarantine_by_code={"type_mismatch": 20},
            checks=[
                {"name": "conservation", "passed": True, "description": "500 = 480 + 20"},
                {
                    "name": "expect_column_values_to_be_in_set",
                    "passed": False,
                    "description": "currency: 7 unexpected | e.g. 'XXX'",
                },
            ],
            silver_bytes=3 * 1024 * 1024,
        ),
    ]


def test_markdown_has_the_numbers_and_failures_first(datasets):
    text = render_markdown(DAY, datasets, dlq_depth=4, queue_depth=12, chart="quarantine.png")

    assert text.startswith(f"# Daily pipeline report — {DAY}\n")
    assert "| shipments | 3 | 1,200 | 1,164 | 36 | 3.00% | 2 | 0 | 47.1 KiB |" in text
    assert "| transactions | 1 | 500 | 480 | 20 | 4.00% | 1 | 1 | 3.0 MiB |" in text
    assert "| **total** | 4 | 1,700 | 1,644 | 56 | 3.29% | 3 | 1 |" in text
    assert "| shipments | `json_decode` | 20 |" in text
    assert "| transactions | `type_mismatch` | 20 |" in text
    check_rows = [
        line for line in text.splitlines() if line.startswith(("| passed", "| **FAILED**"))
    ]
    assert len(check_rows) == 4
    assert check_rows[0].startswith("| **FAILED** |"), "failures first"
    assert "expect_column_values_to_be_in_set" in check_rows[0]
    assert not any(ord(c) > 0x2FFF for c in text), "no emoji: the UI's font may lack them"
    # A pipe in a description is escaped, not a new column.
    assert "7 unexpected \\| e.g. 'XXX'" in check_rows[0]
    assert "Dead-letter queue: 4 message(s)" in text
    assert "Events queue: 12 message(s)" in text
    assert "1 check(s) failed" in text
    assert "![Rows out and quarantined per dataset](quarantine.png)" in text


def test_markdown_without_chart_failures_or_data(datasets):
    quiet = render_markdown(DAY, [], dlq_depth=0, queue_depth=0, chart=None)

    assert "![" not in quiet
    assert "Nothing was quarantined." in quiet
    assert "No checks ran." in quiet
    assert "all checks passed" in quiet


def _decode(png: bytes):
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(png), format="png")


@pytest.mark.parametrize("count", [0, 2])
def test_chart_is_a_png_of_sane_size(datasets, count):
    png = render_chart(datasets[:count])

    assert png.startswith(PNG_MAGIC)
    height, width, _channels = _decode(png).shape
    assert 300 <= height <= 1200 and 500 <= width <= 2000


def test_chart_rendering_leaves_pyplot_alone(datasets):
    import matplotlib

    backend = matplotlib.get_backend()
    render_chart(datasets)

    assert matplotlib.get_backend() == backend


def test_write_report_uploads_markdown_chart_and_summary(datasets):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="silver")

        keys = write_report(s3, "silver", DAY, datasets, dlq_depth=4, queue_depth=12)

        assert keys == {
            "markdown": f"reports/{DAY}/report.md",
            "chart": f"reports/{DAY}/quarantine.png",
            "summary": f"reports/{DAY}/summary.json",
        }
        listed = s3.list_objects_v2(Bucket="silver", Prefix=f"reports/{DAY}/")["Contents"]
        assert sorted(o["Key"] for o in listed) == sorted(keys.values())
        markdown = s3.get_object(Bucket="silver", Key=keys["markdown"])
        assert markdown["ContentType"].startswith("text/markdown")
        assert "(quarantine.png)" in markdown["Body"].read().decode()
        chart = s3.get_object(Bucket="silver", Key=keys["chart"])
        assert chart["ContentType"] == "image/png"
        assert chart["Body"].read().startswith(PNG_MAGIC)
        doc = json.loads(s3.get_object(Bucket="silver", Key=keys["summary"])["Body"].read())
        assert (doc["day"], doc["dlq_depth"], doc["queue_depth"], doc["checks_failed"]) == (
            DAY,
            4,
            12,
            1,
        )
        assert [d["dataset"] for d in doc["datasets"]] == ["shipments", "transactions"]
        assert doc["datasets"][1]["quarantine_by_code"] == {"type_mismatch": 20}
        assert doc["datasets"][1]["quarantine_rate"] == pytest.approx(0.04)


def test_write_report_refuses_a_day_that_is_not_a_date(datasets):
    with pytest.raises(ValueError, match=r"'\.\./x'"):
        write_report(object(), "silver", "../x", datasets, 0, 0)
