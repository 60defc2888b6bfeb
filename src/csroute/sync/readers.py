"""Streaming readers: one record (a dict) at a time, so memory stays flat whatever the file size.

CSV values stay strings (the mapping converts them by Custify's typing rules); JSON and Parquet
values keep their own types. A JSON array is decoded element by element with
``json.JSONDecoder.raw_decode`` over a sliding buffer, because msgspec decodes whole documents only.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, TextIO

Format = Literal["csv", "jsonl", "json", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl", "json", "parquet")
_SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}
CHUNK = 1 << 16


class ReadError(ValueError):
    """The file cannot be read as the format says; ``row`` is the 1-based record, if known."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message if row is None else f"record {row}: {message}")
        self.row = row


def detect_format(path: str, given: str | None = None) -> Format:
    """``given`` when set, else from the file suffix; standard input must say its format."""
    if given is not None:
        if given not in FORMATS:
            raise ReadError(f"unknown format {given!r} (one of {', '.join(FORMATS)})")
        return given
    found = _SUFFIXES.get(Path(path).suffix.lower())
    if found is None:
        raise ReadError(f"cannot tell the format of {path!r}: pass --format")
    return found


def read_records(path: str | Path, fmt: Format) -> Iterator[dict[str, Any]]:
    """The records of the file at ``path`` in file order (standard input is spooled to a file
    first by ``spool_stdin``, since the pre-flight pass reads the input twice)."""
    if fmt == "parquet":
        yield from _parquet(path)
        return
    with open(path, encoding="utf-8-sig", newline="") as stream:
        if fmt == "csv":
            yield from _csv(stream)
        elif fmt == "jsonl":
            yield from _jsonl(stream)
        else:
            yield from _json_array(stream)


def spool_stdin(directory: Path) -> Path:
    """Copy standard input to a file in ``directory``, chunk by chunk."""
    target = directory / "stdin"
    with target.open("wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out, CHUNK)
    return target


def _csv(stream: TextIO) -> Iterator[dict[str, Any]]:
    for row in csv.DictReader(stream):
        yield {k: v for k, v in row.items() if k is not None}


def _jsonl(stream: TextIO) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise ReadError(f"line {number}: not valid JSON ({e.msg})") from None
        yield _object(record, number)


def _object(value: Any, row: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ReadError("each record must be a JSON object", row)
    return value


def _json_array(stream: TextIO) -> Iterator[dict[str, Any]]:
    decoder = json.JSONDecoder()
    buffer, pos, done = "", 0, False
    row = 0

    def fill() -> bool:
        nonlocal buffer, pos
        chunk = stream.read(CHUNK)
        if not chunk:
            return False
        buffer, pos = buffer[pos:] + chunk, 0
        return True

    def skip(chars: str) -> None:
        nonlocal pos, done
        while True:
            while pos < len(buffer) and buffer[pos] in chars:
                pos += 1
            if pos < len(buffer) or not fill():
                done = pos >= len(buffer)
                return

    skip(" \t\r\n")
    if done or buffer[pos] != "[":
        raise ReadError("a JSON file must hold one array of records (or use --format jsonl)")
    pos += 1
    while True:
        skip(" \t\r\n")
        if done:
            raise ReadError("the JSON array is not closed")
        if buffer[pos] == "]":
            return
        while True:
            try:
                value, end = decoder.raw_decode(buffer, pos)
                # A number at the buffer's end may continue in the next chunk.
                if end < len(buffer) or not fill():
                    break
            except json.JSONDecodeError as e:
                if not fill():
                    raise ReadError(f"not valid JSON ({e.msg})", row + 1) from None
        row += 1
        pos = end
        yield _object(value, row)
        skip(" \t\r\n")
        if done:
            raise ReadError("the JSON array is not closed")
        if buffer[pos] == ",":
            pos += 1
        elif buffer[pos] != "]":
            raise ReadError("expected ',' or ']' after a record", row)


def _parquet(path: str | Path) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as parquet:
        for batch in parquet.iter_batches(batch_size=1024):
            yield from batch.to_pylist()
