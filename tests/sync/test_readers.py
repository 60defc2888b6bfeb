"""The readers stream every format to the same records; a JSON array is read across chunk
boundaries; conversions follow Custify's typing rules."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from csroute.sync import readers
from csroute.sync.convert import ConversionError, convert
from csroute.sync.readers import ReadError, detect_format, read_records

pytestmark = pytest.mark.unit  # in-process only: the fast tier (tests/support/unit.py)

RECORDS = [
    {"user_id": "u1", "email": "a@example.com", "score": 7},
    {"user_id": "u2", "email": "b@example.com", "score": 12.5},
    {"user_id": "u3", "email": "c@example.com", "score": -3},
]


def test_json_formats_and_parquet_give_the_same_records(tmp_path: Path) -> None:
    (tmp_path / "r.jsonl").write_text("".join(json.dumps(r) + "\n\n" for r in RECORDS))
    (tmp_path / "r.json").write_text(" [\n" + ",\n ".join(map(json.dumps, RECORDS)) + "\n]\n")
    pq.write_table(pa.Table.from_pylist(RECORDS), tmp_path / "r.parquet")
    for name in ("r.jsonl", "r.json", "r.parquet"):
        path = tmp_path / name
        assert list(read_records(path, detect_format(str(path)))) == RECORDS


def test_csv_values_stay_strings(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("\ufeffuser_id,score\nu1,7\nu2,\n")
    assert list(read_records(path, "csv")) == [
        {"user_id": "u1", "score": "7"},
        {"user_id": "u2", "score": ""},
    ]


def test_json_array_across_chunk_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "CHUNK", 3)
    records = [{"n": 12345678, "s": "x" * 10}, {"n": 1.5e10}, {"nested": {"a": [1, 2]}}]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(records))
    assert list(read_records(path, "json")) == records


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1}', "one array"),
        ('[{"a": 1}, {"a": 2}', "not closed"),
        ('[{"a": 1} {"a": 2}]', "expected ','"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_bad_json_arrays_are_reported(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(ReadError, match=message):
        list(read_records(path, "json"))


def test_format_from_suffix_or_flag() -> None:
    assert detect_format("x.ndjson") == "jsonl"
    assert detect_format("-", "csv") == "csv"
    with pytest.raises(ReadError, match="--format"):
        detect_format("-")


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("2024-05-30", "date", "2024-05-30T00:00:00.000Z"),
        ("2024-05-30 12:30", "date", "2024-05-30T12:30:00.000Z"),
        ("2024-05-30T12:00:00.123+02:00", "date", "2024-05-30T10:00:00.123Z"),
        ("7", "int", 7),
        ("5.4", "number", 5.4),
        ("FALSE", "bool", False),
        ("", "int", None),
        (12, "str", "12"),
        ("2024-01-02", "auto", "2024-01-02T00:00:00.000Z"),
        ("42", "auto", 42),
        ("true", "auto", True),
        ("hello", "auto", "hello"),
    ],
)
def test_conversions(value: object, kind: str, expected: object) -> None:
    assert convert(value, kind) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("30/05/2024", "date"),
        ("yesterday", "date"),
        ("7.5", "int"),
        ("3000000000", "int"),
        ("yes", "bool"),
        ("abc", "number"),
    ],
)
def test_unconvertible_values(value: str, kind: str) -> None:
    with pytest.raises(ConversionError):
        convert(value, kind)  # type: ignore[arg-type]
