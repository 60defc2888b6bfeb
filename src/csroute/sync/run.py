"""Running a sync: a streamed pre-flight pass that finds the rows lacking required fields or
holding unconvertible values, previews and test sends, and the run itself.

The run sends one request at a time through the Custify client's core (its auth, the per-key
rate limiter shared with the pipeline, retries on 429 and 5xx), so the checkpoint can name the
last acknowledged row exactly. At Custify's 100 requests per 10 s a request in flight costs far
less than the wait for the next slot, so sending in order loses nothing. Custify refusing one
request (400, 404, 409) is that request's rows' error and the run goes on; anything else (a bad
key, Custify down after every retry) stops the run, and running it again resumes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import aiohttp
import msgspec

from csroute.custify.client.connection import Connection
from csroute.custify.client.core import Call, Core
from csroute.custify.client.envelopes import Record, items
from csroute.custify.client.errors import (
    Conflict,
    CustifyError,
    NotFound,
    TransportError,
    ValidationError,
)
from csroute.sync.checkpoint import Checkpoint
from csroute.sync.mapping import Problem, build
from csroute.sync.readers import Format, read_records
from csroute.sync.settings import Target
from csroute.sync.templates import NOTE, Payload

PREFLIGHT_SHOWN = 20
REFUSALS = (ValidationError, NotFound, Conflict)
"""Custify refused these records; other errors stop the run."""
_encoder = msgspec.json.Encoder()


class SyncStopped(Exception):
    """The run cannot go on (authentication, Custify unavailable after retries)."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable
        """Custify gave no answer at all (the CLI exits 3 rather than 1)."""


class _Core(Core):
    """The client's core plus the manual configuration's extra headers."""

    def __init__(self, connection: Connection, extra: dict[str, str]) -> None:
        super().__init__(connection)
        self.extra = extra

    def headers(self, call: Call, *, masked: bool = False) -> dict[str, str]:
        return {**self.extra, **super().headers(call, masked=masked)}


@dataclass(slots=True)
class Preflight:
    rows: int = 0
    bad_rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    """The first ``PREFLIGHT_SHOWN`` problems."""


@dataclass(slots=True)
class Outcome:
    rows: int = 0
    resumed_at: int = 0
    """Rows already done by an earlier run, skipped."""
    sent: int = 0
    """Records Custify acknowledged."""
    requests: int = 0
    errors: int = 0
    """Rows reported in the error report."""
    webhook_failures: int = 0
    complete: bool = False
    problems: list[Problem] = field(default_factory=list)
    """The first ``PREFLIGHT_SHOWN`` problems, for the summary."""


Progress = Callable[[int, int], None]
"""Called with (rows done, rows in error) as the run advances."""


class Sync:
    """One sync of ``path`` (a file, already spooled if it came from standard input)."""

    def __init__(
        self,
        target: Target,
        connection: Connection,
        path: Path,
        fmt: Format,
        *,
        response_log: Path | None = None,
        error_report: Path | None = None,
        webhook: str | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.target = target
        self.plan = target.plan
        if target.base_url is not None:
            connection = Connection(
                connection.api_key,
                target.base_url,
                connection.rate_limit_requests,
                connection.rate_limit_window_s,
                connection.timeout_s,
                connection.max_attempts,
                name=connection.name,
            )
        self.core = _Core(connection, target.headers)
        self.path, self.fmt = path, fmt
        self.response_log, self.error_report = response_log, error_report
        self.webhook, self.checkpoint = webhook, checkpoint
        self.outcome = Outcome()
        self._log: IO[str] | None = None
        self._errors: IO[str] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._last_row = 0

    async def __aenter__(self) -> Sync:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        for stream in (self._log, self._errors):
            if stream is not None:
                stream.close()
        self._log = self._errors = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self.core.close()

    def _rows(self, after: int = 0) -> Iterator[tuple[int, Payload | None, list[Problem]]]:
        """(row, payload or None, problems) of every row after row ``after``."""
        template, mapping = self.plan.template, self.target.mapping
        for row, record in enumerate(read_records(self.path, self.fmt), 1):
            if row <= after:
                continue
            payload, problems = build(record, row, template, mapping)
            yield row, payload, problems

    def preflight(self) -> Preflight:
        """Every row checked locally (required fields, types, unknown columns); nothing sent."""
        found = Preflight()
        for row, _, problems in self._rows():
            found.rows = row
            if problems:
                found.bad_rows += 1
                room = PREFLIGHT_SHOWN - len(found.problems)
                found.problems.extend(problems[: max(0, room)])
        return found

    def preview(self, count: int) -> list[Record]:
        """The first ``count`` requests exactly as they would be sent (API key masked)."""
        shown: list[Record] = []
        for _, payloads in self._requests(self._rows(), report=False):
            if len(shown) >= count:
                break
            note = self.plan.template is NOTE and self.plan.batching is None
            call = _note_call(payloads[0], None) if note else self._call_for(payloads)
            shown.append(self.core.describe(call))
        return shown

    async def test(self) -> Record:
        """Send the first valid record alone and return the request and Custify's answer."""
        self._open_outputs(append=True)
        for rows, payloads in self._requests(self._rows(), report=False, size=1):
            entry, _ = await self._exchange(await self._prepare(payloads), rows)
            return entry
        raise SyncStopped("no valid record to send: every row has problems (see the pre-flight)")

    async def run(self, progress: Progress | None = None) -> Outcome:
        """Send every row after the checkpoint; problems go to the error report."""
        outcome = self.outcome
        start = 0
        if self.checkpoint is not None:
            start = self.checkpoint.rows_done
            if self.checkpoint.complete:
                outcome.rows = outcome.resumed_at = start
                outcome.complete = True
                return outcome
        outcome.resumed_at = start
        self._open_outputs(append=start > 0)
        done = start
        for batch_rows, payloads in self._requests(
            self._rows(start), report=True, progress=progress
        ):
            await self._send(batch_rows, payloads)
            done = batch_rows[-1]
            if self.checkpoint is not None:
                self.checkpoint.save(done)
            if progress is not None:
                progress(done, outcome.errors)
        outcome.rows = max(done, self._last_row)
        if self.checkpoint is not None:
            self.checkpoint.save(outcome.rows, complete=True)
        if progress is not None:
            progress(outcome.rows, outcome.errors)
        outcome.complete = True
        return outcome

    def _requests(
        self,
        rows: Iterator[tuple[int, Payload | None, list[Problem]]],
        *,
        report: bool,
        size: int | None = None,
        progress: Progress | None = None,
    ) -> Iterator[tuple[list[int], list[Payload]]]:
        """Valid rows grouped into requests; with ``report``, problems go to the error report."""
        size = size or self.plan.per_request
        batch_rows: list[int] = []
        payloads: list[Payload] = []
        for row, payload, problems in rows:
            self._last_row = row
            if payload is None:
                if report:
                    self._report(problems)
                    if progress is not None:
                        progress(row, self.outcome.errors)
                continue
            batch_rows.append(row)
            payloads.append(payload)
            if len(payloads) >= size:
                yield batch_rows, payloads
                batch_rows, payloads = [], []
        if payloads:
            yield batch_rows, payloads

    def _call_for(self, payloads: list[Payload]) -> Call:
        if self.plan.batching is not None:
            return self.plan.batch(payloads)
        return self.plan.single(payloads[0])

    async def _prepare(self, payloads: list[Payload]) -> Call:
        if self.plan.template is NOTE and self.plan.batching is None:
            return _note_call(payloads[0], await self._note_owner(payloads[0]))
        return self._call_for(payloads)

    async def _note_owner(self, payload: Payload) -> tuple[str, str]:
        """(entity, entityModel): Custify wants a note's owner by internal id."""
        if "company_id" in payload:
            key, value, path, model = "companies", payload["company_id"], "/company", "Company"
            params = {"company_id": str(value)}
        else:
            key, value, path, model = "people", payload["user_id"], "/people", "Customer"
            params = {"user_id": str(value)}
        call = Call("GET", path, params)
        body = await self._logged(call, [])
        found, _ = items(body, key)
        if not found:
            name = next(iter(params))
            raise NotFound(
                f"no {key[:-1] if key == 'companies' else 'person'} with {name} {value!r}"
            )
        return str(found[0]["id"]), model

    async def _send(self, rows: list[int], payloads: list[Payload]) -> None:
        outcome = self.outcome
        try:
            call = await self._prepare(payloads)
            body = await self._logged(call, rows)
        except REFUSALS as e:
            field_name = e.field if isinstance(e, ValidationError) else None
            self._report([Problem(row, field_name, e.message, "custify") for row in rows])
            return
        except CustifyError as e:
            raise SyncStopped(str(e), unreachable=isinstance(e, TransportError)) from None
        failed = await self._failed_jobs(body, rows)
        self._report(failed)
        outcome.sent += len(rows) - len(failed)

    async def _failed_jobs(self, body: Any, rows: list[int]) -> list[Problem]:
        """The rows whose batch jobs failed. An asynchronous batch answers with counts only, so
        when ``failed`` is not zero the results are read back by job id (one more request)."""
        if self.plan.batching is None or not isinstance(body, dict) or not body.get("failed"):
            return []
        results = body.get("results")
        if results is None and body.get("jobId"):
            try:
                answer = await self._logged(Call("GET", f"/batch/{body['jobId']}"), rows)
            except CustifyError as e:
                raise SyncStopped(str(e), unreachable=isinstance(e, TransportError)) from None
            results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            message = f"{body['failed']} jobs of this batch failed; Custify gave no details"
            return [Problem(rows[0], None, message, "custify")]
        return [
            Problem(rows[r["index"]], None, str(r.get("error", "failed")), "custify")
            for r in results
            if isinstance(r, dict) and r.get("status") == "failed" and r.get("index") is not None
        ]

    def _entry(self, call: Call, rows: list[int]) -> Record:
        entry: Record = {"at": datetime.now(UTC).isoformat(timespec="milliseconds")}
        if rows:
            entry["rows"] = [rows[0], rows[-1]]
        entry["request"] = self.core.describe(call)
        return entry

    async def _logged(self, call: Call, rows: list[int]) -> Any:
        """Custify's answer to ``call``, or its error raised."""
        entry, error = await self._exchange(call, rows)
        if error is not None:
            raise error
        return entry["response"]

    async def _exchange(self, call: Call, rows: list[int]) -> tuple[Record, CustifyError | None]:
        """Send ``call``; the request and the answer (or error) go to the response log and the
        webhook, and are returned as that log entry."""
        entry = self._entry(call, rows)
        started = time.monotonic()
        self.outcome.requests += 1
        error = None
        try:
            entry["response"] = await self.core.request(call)
            entry["ok"] = True
        except CustifyError as e:
            error = e
            entry.update(ok=False, status=e.status, error=e.message)
        entry["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
        await self._record(entry)
        return entry, error

    def _open_outputs(self, *, append: bool) -> None:
        mode = "a" if append else "w"
        if self.response_log is not None:
            self._log = self.response_log.open(mode, encoding="utf-8")
        if self.error_report is not None:
            self._errors = self.error_report.open(mode, encoding="utf-8")

    async def _record(self, entry: Record) -> None:
        line = _encoder.encode(entry)
        if self._log is not None:
            self._log.write(line.decode() + "\n")
            self._log.flush()
        if self.webhook is None:
            return
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(
                self.webhook,
                data=line,
                headers={"Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=10),
            ) as answer:
                if answer.status >= 300:
                    self.outcome.webhook_failures += 1
        except (aiohttp.ClientError, TimeoutError):
            self.outcome.webhook_failures += 1

    def _report(self, problems: list[Problem]) -> None:
        self.outcome.errors += len({p.row for p in problems})
        room = PREFLIGHT_SHOWN - len(self.outcome.problems)
        self.outcome.problems.extend(problems[: max(0, room)])
        if self._errors is None:
            return
        for p in problems:
            line = {"row": p.row, "field": p.field, "message": p.message, "stage": p.stage}
            self._errors.write(_encoder.encode(line).decode() + "\n")
        self._errors.flush()


def _note_call(payload: Payload, owner: tuple[str, str] | None) -> Call:
    """``POST /note`` with the owner as Custify wants it; a preview shows the lookup instead."""
    body = {k: v for k, v in payload.items() if k not in ("company_id", "user_id")}
    if owner is None:
        by = "company_id" if "company_id" in payload else "user_id"
        body["entity"] = f"<internal id of {by} {payload[by]!r}, looked up when sent>"
        body["entityModel"] = "Company" if by == "company_id" else "Customer"
    else:
        body["entity"], body["entityModel"] = owner
    return Call(NOTE.method, NOTE.path, {}, body)
