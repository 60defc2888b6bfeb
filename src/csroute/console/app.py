"""The console's routes, mounted at ``/console`` by the operations app when an admin token is
configured. Pages are rendered on the server from the same operations as the admin API (router
status, dead letters, the transform preview); the live view's script reads ``/admin/stream``,
which accepts the console's cookie."""

from __future__ import annotations

import hmac
import io
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from csroute.config import Config
from csroute.console.auth import COOKIE, csrf_ok, csrf_token, new_session, session_nonce
from csroute.console.html import csrf_field, h, page, pretty, table, text_input
from csroute.destinations.registry import parse_settings
from csroute.events.errors import RequestError
from csroute.ops.deadletters import dead_letter_json
from csroute.ops.params import MAX_ID, int_param, path_id, store_unavailable, text_param
from csroute.router.preview import transform_lines
from csroute.router.router import Router
from csroute.secrets import Scrubber
from csroute.store.base import Store, StoreUnavailable

MAX_FORM = 1 << 20
STATIC = Path(__file__).parent / "static"
TOP_REASONS = 3
Page = Callable[[Request, str], Awaitable[Response]]
HEADERS = {
    "cache-control": "no-store",
    "content-security-policy": "default-src 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
}
"""On every page: never cached (they show customers' data), only csroute's own script runs."""
FILTERS = ("source", "destination", "user", "type", "event", "outcome")


async def form_of(request: Request) -> dict[str, str]:
    """An url-encoded form (the first value of each field), read up to ``MAX_FORM`` bytes: the
    login form is open to anyone, who must not make csroute hold an endless body."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise RequestError(413, "", "size", f"a form is at most {MAX_FORM} bytes")
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def create_console(
    config: Config, store: Store, router: Router | None, scrub: Scrubber
) -> Starlette:
    token = config.admin.token
    destinations = {d.name: d for d in config.destinations}

    def html(title: str, body: str, nonce: str, current: str = "") -> Response:
        return HTMLResponse(page(title, body, csrf_token(token, nonce), current), headers=HEADERS)

    def logged_in(handler: Page) -> Callable[[Request], Awaitable[Response]]:
        """``handler(request, nonce)`` for a valid session; a POST also needs its CSRF token."""

        async def guarded(request: Request) -> Response:
            nonce = session_nonce(token, request)
            if nonce is None:
                return RedirectResponse("/console/login", status_code=303)
            try:
                if request.method == "POST":
                    form = await form_of(request)
                    if not csrf_ok(token, nonce, form.get("csrf", "")):
                        raise RequestError(
                            403, "csrf", "csrf", "This form has expired: reload the page."
                        )
                    request.state.form = form
                return await handler(request, nonce)
            except StoreUnavailable as e:
                error = store_unavailable(e)
            except RequestError as e:
                error = e
            alert = f'<p role="alert" class="error">{h(error.rejection.message)}</p>'
            refused = page("Refused", alert, csrf_token(token, nonce))
            return HTMLResponse(refused, error.status, headers=HEADERS)

        return guarded

    def login_page(message: str = "", status: int = 200) -> Response:
        alert = f'<p role="alert" class="error">{h(message)}</p>' if message else ""
        body = (
            f'{alert}<form method="post" action="/console/login">'
            f"{text_input('token', 'Admin token', kind='password')}"
            '<p><button type="submit">Log in</button></p></form>'
        )
        return HTMLResponse(page("Log in", body), status, headers=HEADERS)

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return login_page()
        try:
            given = (await form_of(request)).get("token", "")
        except RequestError as e:
            return login_page(e.rejection.message, e.status)
        if not hmac.compare_digest(given.encode(), token.encode()):
            return login_page(
                "Wrong admin token: use admin.token from csroute's configuration.", 401
            )
        response = RedirectResponse("/console/", status_code=303)
        response.set_cookie(
            COOKIE,
            new_session(token),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    async def logout(request: Request, nonce: str) -> Response:
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    async def overview(request: Request, nonce: str) -> Response:
        status = await router.status() if router else {}
        rows = []
        for name, s in status.items():
            reasons: dict[str, int] = {}
            for key in ("retrying_by_error", "dead_by_error", "rejected_by_reason"):
                for reason, count in s.get(key, {}).items():
                    reasons[reason] = reasons.get(reason, 0) + count
            top = sorted(reasons.items(), key=lambda x: -x[1])[:TOP_REASONS]
            shown = "".join(f"<li>{h(scrub.text(r))} ({h(c)})</li>" for r, c in top)
            rows.append(
                [
                    f'<a href="/console/dead-letters?{h(urlencode({"destination": name}))}">'
                    f"{h(name)}</a>",
                    h(s["type"]),
                    h(s["delivered"]),
                    h(s["sent"]),
                    h(s["backlog"]),
                    h(s["retrying"]),
                    h(s["dead"]),
                    "paused" if s.get("paused") else "running",
                    f"<ul>{shown}</ul>" if shown else "none",
                ]
            )
        sources = [
            [
                h(source.name),
                "enabled" if source.enabled else "disabled",
                h(
                    ", ".join(
                        d
                        for c in config.connections
                        if c.source == source.name
                        for d in c.destinations
                    )
                ),
            ]
            for source in config.sources
        ]
        body = table(
            "Destinations",
            [
                "destination",
                "type",
                "delivered",
                "sent",
                "backlog",
                "retrying",
                "dead",
                "state",
                "top reasons",
            ],
            rows,
        ) + table("Sources", ["source", "state", "destinations"], sources)
        return html("Overview", body, nonce, "overview")

    async def live(request: Request, nonce: str) -> Response:
        inputs = "".join(text_input(f, f) for f in FILTERS)
        body = (
            '<form id="live-filter" class="filters"><fieldset><legend>Filter</legend>'
            f'{inputs}<p><button type="submit">Apply filter</button></p></fieldset></form>'
            '<p><button type="button" id="pause" aria-pressed="false">Pause</button> '
            '<span id="live-state" role="status">connecting…</span></p>'
            '<ol id="records" aria-live="polite" aria-label="captured records"></ol>'
        )
        return html("Live stream", body, nonce, "live")

    async def dead_letters(request: Request, nonce: str) -> Response:
        wanted = text_param(request.query_params, "destination") or None
        letters = await store.dead_letters(wanted, 0, 200)
        csrf = csrf_field(csrf_token(token, nonce))
        rows = []
        for d in letters:
            shown = dead_letter_json(d, with_event=False, scrub=scrub)
            rows.append(
                [
                    f'<a href="/console/dead-letters/{h(d.id)}">#{h(d.id)}</a>',
                    h(shown["destination"]),
                    h(shown["user"]),
                    h(shown["attempts"]),
                    h(shown["status"]),
                    h(shown["error"]),
                    _actions(d.id, csrf),
                ]
            )
        options = "".join(
            f'<option value="{h(n)}"{" selected" if n == wanted else ""}>{h(n)}</option>'
            for n in destinations
        )
        body = (
            '<form method="get"><p><label for="f-destination">destination</label> '
            f'<select id="f-destination" name="destination"><option value="">all</option>{options}'
            '</select> <button type="submit">Show</button></p></form>'
            + (
                table(
                    "Dead letters",
                    ["id", "destination", "user", "attempts", "status", "error", "actions"],
                    rows,
                )
                if rows
                else "<p>No dead letters.</p>"
            )
        )
        return html("Dead letters", body, nonce, "dead letters")

    async def dead_letter(request: Request, nonce: str) -> Response:
        letter = await store.dead_letter(path_id(request.path_params["id"]))
        if letter is None:
            return html("No such dead letter", "<p>It was replayed or discarded.</p>", nonce)
        shown = dead_letter_json(letter, with_event=True, scrub=scrub)
        body = (
            f"<dl><dt>destination</dt><dd>{h(shown['destination'])}</dd>"
            f"<dt>user</dt><dd>{h(shown['user'])}</dd><dt>attempts</dt><dd>{h(shown['attempts'])}</dd>"
            f"<dt>status</dt><dd>{h(shown['status'])}</dd><dt>error</dt><dd>{h(shown['error'])}</dd></dl>"
            f"<h2>Request</h2><pre>{pretty(shown['request'])}</pre>"
            f"<h2>Response</h2><pre>{h(shown['response'])}</pre>"
            f"<h2>Event</h2><pre>{pretty(shown['event'])}</pre>"
            + _actions(letter.id, csrf_field(csrf_token(token, nonce)))
        )
        return html(f"Dead letter #{letter.id}", body, nonce, "dead letters")

    def acting(action: str) -> Page:
        async def act(request: Request, nonce: str) -> Response:
            form: dict[str, str] = request.state.form
            if "id" not in form:
                raise RequestError(400, "id", "required", "id is required")
            ids = [int_param(form, "id", 0, 1, MAX_ID)]
            if action == "replay":
                await store.replay(ids, time.time())
                if router is not None:
                    router.wake()
            else:
                await store.discard(ids)
            return RedirectResponse("/console/dead-letters", status_code=303)

        return act

    async def transform(request: Request, nonce: str) -> Response:
        form: dict[str, str] = getattr(request.state, "form", {})
        chosen = form.get("destination", "")
        event = form.get("event", "")
        result = ""
        if request.method == "POST":
            result = "<h2>Result</h2>" + _preview(destinations.get(chosen), event, scrub)
        options = "".join(
            f'<option value="{h(n)}"{" selected" if n == chosen else ""}>'
            f"{h(n)} ({h(d.type)})</option>"
            for n, d in destinations.items()
        )
        body = (
            '<form method="post" action="/console/transform">'
            f"{csrf_field(csrf_token(token, nonce))}"
            f'<p><label for="f-destination">destination</label> <select id="f-destination" '
            f'name="destination">{options}</select></p>'
            '<p><label for="f-event">event (JSON)</label><br>'
            f'<textarea id="f-event" name="event" rows="12" cols="80">{h(event)}</textarea></p>'
            f'<p><button type="submit">Preview</button></p></form>{result}'
        )
        return html("Transform preview", body, nonce, "transform")

    return Starlette(
        routes=[
            Route("/login", login, methods=["GET", "POST"]),
            Route("/logout", logged_in(logout), methods=["POST"]),
            Route("/", logged_in(overview)),
            Route("/live", logged_in(live)),
            Route("/dead-letters", logged_in(dead_letters)),
            Route("/dead-letters/{id:id}", logged_in(dead_letter)),
            Route("/dead-letters/replay", logged_in(acting("replay")), methods=["POST"]),
            Route("/dead-letters/discard", logged_in(acting("discard")), methods=["POST"]),
            Route("/transform", logged_in(transform), methods=["GET", "POST"]),
            Mount("/static", StaticFiles(directory=STATIC)),
        ]
    )


def _actions(letter_id: int, csrf: str) -> str:
    return "".join(
        f'<form method="post" action="/console/dead-letters/{action}" class="inline" '
        f'data-confirm="{h(action.capitalize())} dead letter #{h(letter_id)}?">{csrf}'
        f'<input type="hidden" name="id" value="{h(letter_id)}">'
        f'<button type="submit">{h(action)} #{h(letter_id)}</button></form>'
        for action in ("replay", "discard")
    )


def _preview(destination: Any, event: str, scrub: Scrubber) -> str:
    """The exact requests ``csroute transform`` makes of ``event``, secrets masked."""
    if destination is None:
        return '<p role="alert" class="error">Pick a configured destination.</p>'
    try:
        line = msgspec.json.encode(msgspec.json.decode(event.encode()))
    except msgspec.DecodeError as e:
        return f'<p role="alert" class="error">The event is not valid JSON: {h(e)}</p>'
    settings, problems = parse_settings(destination.type, destination.settings)
    if problems:
        return f'<p role="alert" class="error">{h("; ".join(problems))}</p>'
    out = io.BytesIO()
    transform_lines(destination.type, settings, io.BytesIO(line), out)
    result = scrub.json(msgspec.json.decode(out.getvalue()))
    if "error" in result:
        refused = f"Refused ({h(result['status'])}): {h(result['error'])}"
        return f'<p role="alert" class="error">{refused}</p>'
    return f'<pre id="requests">{pretty(result["requests"])}</pre>'
