"""``csroute sync``: bulk record sync from files to Custify (docs/sync.md).

``csroute sync FILE --template NAME ...`` runs one sync from flags; ``csroute sync run NAME``
runs a saved one from the configuration's ``syncs``; ``csroute sync list`` lists them. Both
paths build the same ``SyncConfig``, so a saved sync and its command line behave alike.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from typer._click.core import Context
from typer.core import TyperGroup

from csroute.cli.common import (
    CUSTIFY_ONLY,
    FAILED,
    INTERRUPTED,
    STORE_ONLY,
    UNAVAILABLE,
    ConfigOption,
    err,
    fail,
    load_config,
    out,
)
from csroute.cli.custify_actions import ConnectionOption, parse_json, print_json
from csroute.cli.tables import print_table
from csroute.config import Config
from csroute.custify.client import Connection, ConnectionNotFound, resolve
from csroute.sync.checkpoint import Checkpoint, checkpoint_key
from csroute.sync.config import ManualRequestConfig, SyncConfig
from csroute.sync.mapping import Problem
from csroute.sync.readers import FORMATS, ReadError, detect_format, spool_stdin
from csroute.sync.run import Outcome, Sync, SyncStopped
from csroute.sync.settings import SettingsError, target
from csroute.sync.templates import TEMPLATE_NAMES

_REQUEST_SHAPING = (
    "file",
    "format",
    "template",
    "map",
    "exclude",
    "batch",
    "batch_size",
    "job_type",
    "manual",
)


class _FileFirst(TyperGroup):
    """``csroute sync FILE ...`` means ``csroute sync file FILE ...``: a first word that is not
    a subcommand is the file. (A file named ``run`` or ``list``: write ``./run``.)"""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("--"):
            args = ["file", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_FileFirst,
    help="Bulk sync of records from CSV, JSON Lines, JSON or Parquet files to Custify.",
    no_args_is_help=True,
)

PreviewOption = Annotated[
    int | None,
    typer.Option("--preview", help="Print the first N requests as they would be sent; send none."),
]
TestOption = Annotated[
    bool, typer.Option("--test", help="Send the first valid record alone and show the answer.")
]
RestartOption = Annotated[
    bool, typer.Option("--restart", help="Ignore the checkpoint and start from the first row.")
]


@app.command("file")
def sync_file(
    file: Annotated[str, typer.Argument(help="The input file, or - for standard input.")],
    template_name: Annotated[
        str,
        typer.Option(
            "--template",
            "-t",
            help=f"One of: {', '.join(TEMPLATE_NAMES)}; or manual (--method, --path/--url).",
        ),
    ],
    connection: ConnectionOption = None,
    config: ConfigOption = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", "-m", help="COLUMN=FIELD (repeatable)."),
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", "-x", help="A column to leave out.")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help=f"{'|'.join(FORMATS)} (default: from the suffix)."),
    ] = None,
    preview: PreviewOption = None,
    test: TestOption = False,
    batch: Annotated[
        bool,
        typer.Option(
            "--batch", help="Send through POST /batch (people, companies, events, custom data)."
        ),
    ] = False,
    batch_size: Annotated[int, typer.Option(help="Records per batched request.")] = 100,
    job_type: Annotated[
        str | None, typer.Option(help="Send Batch Request: people, company, event, custom-data.")
    ] = None,
    method: Annotated[str, typer.Option(help="Manual: the HTTP method.")] = "POST",
    path: Annotated[str | None, typer.Option(help="Manual: the path, e.g. /people.")] = None,
    url: Annotated[str | None, typer.Option(help="Manual: the full URL.")] = None,
    header: Annotated[
        list[str] | None,
        typer.Option("--header", "-H", help="Manual: NAME:VALUE[,NAME:VALUE] extra headers."),
    ] = None,
    batch_property: Annotated[
        str | None, typer.Option(help="Manual: batch records under this property (e.g. batch).")
    ] = None,
    other: Annotated[
        str | None, typer.Option(help="Manual: other properties of a batched request (JSON).")
    ] = None,
    response_log: Annotated[
        Path | None, typer.Option(help="JSON Lines log (default: FILE.responses.jsonl).")
    ] = None,
    webhook: Annotated[
        str | None, typer.Option(help="POST every request and response here too.")
    ] = None,
    error_report: Annotated[
        Path | None, typer.Option(help="JSON Lines per-row errors (default: FILE.errors.jsonl).")
    ] = None,
    checkpoint: Annotated[
        Path | None, typer.Option(help="Resume file (default: FILE.checkpoint.json).")
    ] = None,
    restart: RestartOption = False,
) -> None:
    """Sync FILE to Custify through a template (csroute sync FILE --template NAME ...)."""
    manual = None
    if template_name.strip().lower() == "manual":
        manual = ManualRequestConfig(
            method=method,
            path=path,
            url=url,
            headers=_headers(header or []),
            batch_property=batch_property,
            other=parse_json(other, "--other") if other else {},
        )
    try:
        spec = SyncConfig(
            file=file,
            template=template_name,
            connection=connection,
            format=fmt,  # type: ignore[arg-type]
            map=_pairs(mapping or []),
            exclude=list(exclude or []),
            batch=batch,
            batch_size=batch_size,
            job_type=job_type,  # type: ignore[arg-type]
            manual=manual,
            response_log=str(response_log) if response_log else None,
            error_report=str(error_report) if error_report else None,
            checkpoint=str(checkpoint) if checkpoint else None,
            webhook=webhook,
        )
        spec = msgspec.convert(msgspec.to_builtins(spec), SyncConfig)
    except msgspec.ValidationError as e:
        fail(f"invalid option: {e}", 2)
    execute(
        spec, load_config(config, needs=CUSTIFY_ONLY), preview=preview, test=test, restart=restart
    )


@app.command("run")
def run_saved(
    name: Annotated[str, typer.Argument(help="A sync under syncs: in the configuration.")],
    config: ConfigOption = None,
    preview: PreviewOption = None,
    test: TestOption = False,
    restart: RestartOption = False,
) -> None:
    """Run a saved sync by name (it must be active)."""
    cfg = load_config(config, needs=CUSTIFY_ONLY)
    spec = cfg.syncs.get(name)
    if spec is None:
        known = ", ".join(sorted(cfg.syncs)) or "none configured"
        fail(f"no sync named {name!r} under syncs (known: {known})", 2)
    if not spec.active and preview is None:
        fail(
            f"sync {name!r} is inactive (active: false); set active: true in the configuration "
            "to run it (--preview works on inactive syncs)",
            2,
        )
    execute(spec, cfg, preview=preview, test=test, restart=restart)


@app.command("list")
def list_syncs(config: ConfigOption = None) -> None:
    """List the saved syncs."""
    cfg = load_config(config, needs=STORE_ONLY)
    print_table(
        ("name", "active", "template", "file", "connection"),
        (
            (
                name,
                spec.active,
                spec.template + (" (batch)" if spec.batch else ""),
                spec.file,
                spec.connection or "(default)",
            )
            for name, spec in sorted(cfg.syncs.items())
        ),
        empty="no saved syncs (add them under syncs: in the configuration)",
    )


def _pairs(items: list[str]) -> dict[str, str]:
    pairs = {}
    for item in items:
        column, sep, name = item.partition("=")
        if not sep or not column or not name:
            fail(f"--map: expected COLUMN=FIELD (got {item!r})", 2)
        pairs[column] = name
    return pairs


def _headers(items: list[str]) -> dict[str, str]:
    headers = {}
    for item in (part for given in items for part in given.split(",") if part.strip()):
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            fail(f"--header: expected NAME:VALUE (got {item!r})", 2)
        headers[name.strip()] = value.strip()
    return headers


def execute(
    spec: SyncConfig, cfg: Config, *, preview: int | None, test: bool, restart: bool
) -> None:
    try:
        chosen = target(spec)
        connection = resolve(cfg.custify_connections, spec.connection)
    except (SettingsError, ConnectionNotFound) as e:
        fail(str(e), 2)
    with tempfile.TemporaryDirectory(prefix="csroute-sync-") as spool:
        try:
            fmt = detect_format(spec.file, spec.format)
            path = spool_stdin(Path(spool)) if spec.file == "-" else Path(spec.file)
        except ReadError as e:
            fail(str(e), 2)
        if not path.is_file():
            fail(f"{spec.file}: no such file", 2)
        outputs = _outputs(spec, path)
        try:
            failed = asyncio.run(
                _execute(spec, chosen, connection, path, fmt, outputs, preview, test, restart)
            )
        except ReadError as e:
            fail(f"{spec.file}: {e}")
        except KeyboardInterrupt:
            fail(
                "interrupted; run the same command again to resume after the last row Custify "
                "acknowledged",
                INTERRUPTED,
            )
    if failed:
        raise typer.Exit(FAILED)


def _outputs(spec: SyncConfig, path: Path) -> dict[str, Any]:
    """Where the logs and the checkpoint go: given, else beside the file (standard input: in
    the current directory, with no checkpoint, since it cannot be read again)."""
    stem = Path(spec.file) if spec.file != "-" else Path("stdin")
    checkpoint = None
    if spec.file != "-" or spec.checkpoint:
        where = Path(spec.checkpoint or f"{stem}.checkpoint.json")
        shaping = {k: v for k, v in msgspec.to_builtins(spec).items() if k in _REQUEST_SHAPING}
        checkpoint = (where, checkpoint_key(path, shaping))
    return {
        "response_log": Path(spec.response_log or f"{stem}.responses.jsonl"),
        "error_report": Path(spec.error_report or f"{stem}.errors.jsonl"),
        "webhook": spec.webhook,
        "checkpoint": checkpoint,
    }


async def _execute(
    spec: SyncConfig,
    chosen: Any,
    connection: Connection,
    path: Path,
    fmt: Any,
    outputs: dict[str, Any],
    preview: int | None,
    test: bool,
    restart: bool,
) -> int:
    """Run the sync; return how many rows failed (or would fail)."""
    resume = None
    if outputs["checkpoint"] is not None and preview is None and not test:
        where, key = outputs["checkpoint"]
        resume, replaced = Checkpoint.load(where, key)
        if restart:
            resume = Checkpoint(where, key)
        elif replaced:
            err.print(f"{where}: the file or the sync's settings changed; starting from row 1")
    async with Sync(
        chosen,
        connection,
        path,
        fmt,
        response_log=outputs["response_log"],
        error_report=outputs["error_report"],
        webhook=outputs["webhook"],
        checkpoint=resume,
    ) as sync:
        checked = sync.preflight()
        err.print(
            f"pre-flight: {checked.rows} rows, {checked.bad_rows} with problems "
            "(reported and skipped; the others are sent)",
            highlight=False,
        )
        _print_problems(checked.problems, checked.bad_rows)
        if preview is not None:
            print_json(sync.preview(preview))
            return checked.bad_rows
        if test:
            try:
                entry = await sync.test()
            except SyncStopped as e:
                fail(str(e), UNAVAILABLE if e.unreachable else FAILED)
            print_json(entry)
            if not entry.get("ok"):  # Custify refused the record, or did not answer
                raise typer.Exit(UNAVAILABLE if entry.get("status") is None else FAILED)
            return checked.bad_rows
        if resume is not None and resume.complete:
            err.print(f"already complete ({resume.rows_done} rows); --restart sends it again")
            return 0
        if resume is not None and resume.rows_done:
            err.print(f"resuming after row {resume.rows_done} (checkpoint {resume.path})")
        try:
            outcome = await _with_progress(sync, checked.rows)
        except SyncStopped as e:
            done = resume.rows_done if resume is not None else 0
            fail(
                f"stopped after row {done}: {e}; run the same command again to resume",
                UNAVAILABLE if e.unreachable else FAILED,
            )
    _summary(outcome, outputs)
    return outcome.errors


async def _with_progress(sync: Sync, total: int) -> Outcome:
    columns = (
        TextColumn("[bold]sync"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]} rows/s"),
        TextColumn("{task.fields[errors]} errors"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("sync", total=total, errors=0, rate="-")

        def advance(done: int, errors: int) -> None:
            speed = bar.tasks[0].speed
            rate = f"{speed:.0f}" if speed else "-"
            bar.update(task, completed=done, errors=errors, rate=rate)

        return await sync.run(advance)


def _print_problems(problems: list[Problem], bad_rows: int) -> None:
    if not problems:
        return
    table = Table("row", "field", "problem", title=None)
    for p in problems:
        table.add_row(str(p.row), escape(p.field or "-"), escape(p.message))
    err.print(table)
    if bad_rows > len({p.row for p in problems}):
        err.print("(more in the error report)")


def _summary(outcome: Outcome, outputs: dict[str, Any]) -> None:
    resumed = f", resumed after row {outcome.resumed_at}" if outcome.resumed_at else ""
    out.print(
        f"{outcome.rows} rows: {outcome.sent} sent, {outcome.errors} with errors, "
        f"{outcome.requests} requests{resumed}",
        highlight=False,
    )
    if outcome.errors:
        _print_problems(outcome.problems, outcome.errors)
        out.print(f"error report: {outputs['error_report']}", highlight=False)
    out.print(f"response log: {outputs['response_log']}", highlight=False)
    if outcome.webhook_failures:
        err.print(f"[yellow]warning:[/yellow] {outcome.webhook_failures} webhook posts failed")
