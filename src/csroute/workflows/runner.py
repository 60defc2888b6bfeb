"""The configured workflows of one process: runs created from trigger records and pipeline
events, and run durably, step by step, in ``csroute serve`` (worker role) or from the CLI.

Durability comes from the store, not from this process:

* a run is created in the store before the trigger's cursor moves (``accept`` is the triggers
  runner's hand-off), and at most once per workflow and record key, so a record delivered twice
  (pushed, then polled) starts one run;
* a process claims a run before running it and renews the claim while it runs; a run whose
  process died is taken over once its claim expires (``store.lease_ttl_s``);
* each step is recorded before it is sent and again with its output, so a resumed run skips
  the steps that succeeded and starts again at the one that was in flight or failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from typing import Any, Final

import msgspec

from csroute.store.base import StepRecord, Store, TriggerCursor, WorkflowRun
from csroute.workflows import metrics
from csroute.workflows.conditions import hold
from csroute.workflows.expressions import ExpressionError, render_all
from csroute.workflows.settings import MAX_BACKOFF_S, StepConfig, WorkflowConfig
from csroute.workflows.steps import Setup, StepFailed, Steps, scrubbing

log = logging.getLogger("csroute.workflows")

SCAN_S: Final = 2.0
"""How often an idle process looks in the store for runs to start or resume (a trigger record
handed on in this process wakes it at once)."""
FEED_S: Final = 1.0
"""How often a workflow started by pipeline events reads the new events of the log."""
FEED_PAGE: Final = 200
CONCURRENCY: Final = 8
"""Runs in progress at once in one process; the others wait their turn."""

_encode = msgspec.json.encode


def record_key(out: Mapping[str, Any]) -> str:
    """What makes a trigger record one record: the trigger, the record's id and timestamp."""
    return f"{out['trigger']}:{out['id']}@{out['at']}"


def feed_name(workflow: str) -> str:
    """Where a pipeline-event workflow keeps its place in the log: a trigger cursor under a name
    no trigger can have (trigger names hold no ``/``)."""
    return f"workflow/{workflow}"


class _Stop(Exception):
    """The process is stopping, or another process took the run over: leave it as it is."""


def decoded(raw: bytes | None) -> Any:
    return None if raw is None else msgspec.json.decode(raw)


class Workflows:
    def __init__(
        self,
        config: Setup,
        store: Store,
        *,
        secrets: Collection[str] = (),
        names: list[str] | None = None,
        steps: Steps | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Every enabled workflow of ``config`` (or those ``names``, enabled or not).
        ``secrets``: the configuration's other secrets, masked in what runs record."""
        self.config = config
        self.store = store
        self.chosen = {
            name: w
            for name, w in config.workflows.items()
            if (w.enabled if names is None else name in names)
        }
        self.by_trigger: dict[str, list[str]] = {}
        for name, w in self.chosen.items():
            if w.trigger is not None:
                self.by_trigger.setdefault(w.trigger, []).append(name)
        self.steps = steps or Steps(config, store)
        self.scrub = scrubbing(config, secrets)
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.ttl_s = config.store.lease_ttl_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._active: dict[int, asyncio.Task[Any]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # -- creating runs ----------------------------------------------------------------------

    async def accept(self, out: Mapping[str, Any]) -> None:
        """The triggers runner's hand-off: one run per workflow of this trigger, durably created
        before the trigger's cursor moves past the record (a repeat creates nothing)."""
        for name in self.by_trigger.get(str(out["trigger"]), ()):
            await self.create(name, record_key(out), out)

    async def create(self, workflow: str, key: str, trigger: Any) -> int | None:
        id = await self.store.create_run(workflow, key, _encode(trigger), self.clock())
        if id is not None:
            metrics.RUNS.labels(workflow, "started").inc()
            self._wake.set()
        return id

    async def feed(self, name: str) -> int:
        """Create runs for the pipeline's new ``track`` events that start workflow ``name``;
        how many. Its first read starts from the end of the log: earlier events start nothing."""
        event = self.chosen[name].event
        assert event is not None, "only pipeline-event workflows read the log"
        place = feed_name(name)
        cursor = (await self.store.trigger_cursors(place)).get("")
        if cursor is None:
            end = await self.store.read_new(place, (), 1, after=0)
            await self.store.save_trigger_cursor(place, "", TriggerCursor(str(end.cursor)))
            return 0
        page = await self.store.read_new(place, (event.source,), FEED_PAGE, after=int(cursor.at))
        created = 0
        for logged in page.events:
            payload = msgspec.json.decode(logged.payload)
            if payload.get("type") == "track" and payload.get("event") == event.track:
                key = f"{event.source}:{payload.get('messageId')}"
                created += await self.create(name, key, payload) is not None
        if page.cursor != int(cursor.at):
            await self.store.save_trigger_cursor(place, "", TriggerCursor(str(page.cursor)))
        return created

    # -- running ------------------------------------------------------------------------------

    async def run(self, id: int) -> WorkflowRun | None:
        """Run (or resume) one run to its end, if no other process holds it; the run as stored
        afterwards."""
        run = await self.store.workflow_run(id)
        if run is None or run.state not in ("queued", "running"):
            return run
        workflow = self.chosen.get(run.workflow)
        if workflow is None:
            return run  # not this process's (disabled, or not asked for)
        if not await self.store.claim_run(id, self.owner, self.clock(), self.ttl_s):
            return run
        run = await self.store.workflow_run(id) or run  # as the last holder left it
        try:
            async with self._holding(id):
                state, error = await self._steps(run, workflow)
        except _Stop:
            if self._stopping.is_set():  # give it back for the next process, now
                await self.store.finish_run(id, "queued", None, self.clock())
            return await self.store.workflow_run(id)
        error = None if error is None else self.scrub.text(error)
        await self.store.finish_run(id, state, error, self.clock())
        metrics.RUNS.labels(run.workflow, state).inc()
        metrics.LATENCY.labels(run.workflow).observe(max(0.0, self.clock() - run.created_at))
        if error:
            log.warning(f"workflow {run.workflow!r} run {id} failed: {error}")
        return await self.store.workflow_run(id)

    @contextlib.asynccontextmanager
    async def _holding(self, id: int) -> AsyncIterator[None]:
        """Renew the run's claim while it runs; losing it (another process took the run over
        after this one stalled past the claim) stops the run here."""
        me = asyncio.current_task()
        assert me is not None

        async def renew() -> None:
            while True:
                await asyncio.sleep(self.ttl_s / 3)
                try:
                    held = await self.store.claim_run(id, self.owner, self.clock(), self.ttl_s)
                except Exception as e:  # the store is down: the next renewal may get through
                    log.warning(f"workflows: could not renew the claim on run {id}: {e}")
                    continue
                if not held:
                    me.cancel()
                    return

        renewing = asyncio.create_task(renew())
        try:
            yield
        except asyncio.CancelledError:
            if renewing.done() and not self._stopping.is_set():
                raise _Stop() from None
            raise
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def _steps(self, run: WorkflowRun, workflow: WorkflowConfig) -> tuple[Any, str | None]:
        context: dict[str, Any] = {
            "trigger": decoded(run.trigger),
            "steps": {},
            "workflow": {"name": run.workflow},
            "run": {"id": run.id},
        }
        if not run.steps:  # conditions are decided once, before the first step
            try:
                if not hold(workflow.when, context):
                    return "skipped", None
            except ExpressionError as e:
                return "failed", f"when: {e}"
        recorded = {s.index: s for s in run.steps}
        for index, step in enumerate(workflow.steps):
            prior = recorded.get(index)
            if prior is not None and prior.state == "succeeded" and prior.name == step.id:
                context["steps"][step.id] = {
                    "input": decoded(prior.input),
                    "output": decoded(prior.output),
                }
                continue
            if self._stopping.is_set():  # between steps: the next process goes on from here
                raise _Stop()
            error = await self._step(run, index, step, workflow, context, prior)
            if error is not None:
                return "failed", error
        return "succeeded", None

    async def _step(
        self,
        run: WorkflowRun,
        index: int,
        step: StepConfig,
        workflow: WorkflowConfig,
        context: dict[str, Any],
        prior: StepRecord | None,
    ) -> str | None:
        """Run one step with its tries; the run's error if it failed for good."""
        attempts = prior.attempts if prior is not None and prior.name == step.id else 0
        started = self.clock()

        def save(
            state: Any, input: Any, output: Any = None, error: str | None = None, **more: Any
        ) -> Any:
            """Record the step, every secret of the configuration masked."""
            scrub = self.scrub
            return self.store.record_step(
                StepRecord(
                    run.id,
                    index,
                    step.id,
                    state,
                    attempts,
                    started,
                    scrub.bytes(_encode(input)),
                    None if output is None else scrub.bytes(_encode(output)),
                    None if error is None else scrub.text(error),
                    **more,
                )
            )

        try:
            values = render_all(step.input, context)
            body = render_all(step.body, context)
            if step.track is not None and step.track.user_id:
                values = {"user_id": render_all(step.track.user_id, context)}
        except ExpressionError as e:
            error = f"step {step.id}: {e}"
            await save("failed", None, error=error, finished_at=self.clock())
            return error
        if step.webhook is not None and step.body is None:
            body = context["trigger"]
        shown = values if body is None else {**values, "body": body}
        tries = 0
        while True:
            attempts += 1
            tries += 1
            await save("running", shown)
            try:
                label = f"{run.id}:{step.id}"
                output = await self.steps.run(step, workflow.connection, values, body, label)
            except StepFailed as e:
                if not e.retryable or tries >= step.retry.max_attempts:
                    error = f"step {step.id}: {e}"
                    await save("failed", shown, error=str(e), finished_at=self.clock())
                    return error
                metrics.RETRIES.labels(run.workflow, step.id).inc()
                await save("running", shown, error=str(e))
                await self._wait(_backoff(step, tries, e))
                continue
            await save("succeeded", shown, output=output, finished_at=self.clock())
            context["steps"][step.id] = {"input": shown, "output": output}
            return None

    async def _wait(self, delay: float) -> None:
        if delay <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)
        if self._stopping.is_set():
            raise _Stop()

    # -- in csroute serve ---------------------------------------------------------------------

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._dispatch()))
        for name, workflow in self.chosen.items():
            if workflow.event is not None:
                self._tasks.append(asyncio.create_task(self._feed(name)))

    async def _dispatch(self) -> None:
        """Start every unfinished run this process may run, each as a task of its own (one
        run's backoff never holds another back), at most ``CONCURRENCY`` at once."""
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                for id in await self.store.unfinished_runs(self.clock()):
                    if id not in self._active:
                        self._active[id] = asyncio.create_task(self._run_slot(id))
            except Exception as e:
                log.warning(f"workflows: could not read the runs to start, trying again: {e}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), SCAN_S)

    async def _run_slot(self, id: int) -> None:
        try:
            async with self._slots:
                if not self._stopping.is_set():
                    await self.run(id)
        except Exception as e:
            log.warning(f"workflows: run {id} stopped, resumed later: {e}")
        finally:
            self._active.pop(id, None)

    async def _feed(self, name: str) -> None:
        while not self._stopping.is_set():
            try:
                await self.feed(name)
            except Exception as e:
                log.warning(f"workflow {name!r}: could not read new events, trying again: {e}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), FEED_S)

    async def stop(self) -> None:
        """Stop starting runs; runs in a step's backoff are given back for the next process,
        and a step in flight finishes first (its answer is recorded)."""
        self._stopping.set()
        self._wake.set()
        await asyncio.gather(*self._tasks, *self._active.values(), return_exceptions=True)
        self._tasks.clear()
        await self.steps.close()


def _backoff(step: StepConfig, tries: int, failure: StepFailed) -> float:
    """A server's Retry-After when it gave one (0 for Custify's 429s: the key's limiter waits),
    else the step's backoff, doubling."""
    if failure.retry_after_s is not None:
        return failure.retry_after_s
    return float(min(MAX_BACKOFF_S, step.retry.backoff_s * 2 ** (tries - 1)))
