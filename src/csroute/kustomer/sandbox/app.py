"""The sandbox's HTTP surface: Kustomer's tracking and customer-lookup endpoints, plus admin.

Every ``/v1`` request passes the same gates as on Kustomer, in this order: the org in the host
(404), the Bearer key (401), the org's per-minute budget (429, ``x-ratelimit-*`` headers on
every answer), injected faults (tracking calls only), the key's roles (403), then the body
(400, naming the offending key). ``/__sandbox/...`` is the unauthenticated admin side: state,
reset, faults and the plan's limit.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from csroute.kustomer.sandbox.rules import Problem, Rules, event_problem, identity_problem
from csroute.kustomer.sandbox.state import Customer, Faults, Org, RateWindow, Visitor, new_id

TRACKING = "org.tracking"
READ_CUSTOMERS = ("org.permission.customer.read", "org.user.customer.read")
READ_EVENTS = ("org.permission.event.read", "org.user.event.read")
ALL_ROLES = frozenset({TRACKING, READ_CUSTOMERS[0], READ_EVENTS[0]})
DEFAULT_KEYS: Mapping[str, Collection[str]] = {"sandbox-key": ALL_ROLES}

_ORG_HOST = re.compile(r"([a-z0-9-]+)\.(?:api\.kustomerapp\.com|localhost)(?::\d+)?", re.I)
_LOOKUP = re.compile(r"(email|externalId|phone)=(.+)")

Handler = Callable[[Request, Any], Awaitable[Response]]


def create_app(
    *,
    org_name: str = "sandbox",
    api_keys: Mapping[str, Collection[str]] = DEFAULT_KEYS,
    rate_limit_per_minute: int | None = 300,
    rules: Rules | None = None,
    foreign_pod_keys: Collection[str] = (),
    retry_after: bool = False,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """A Kustomer org named ``org_name`` with the given API keys (key to roles).

    ``foreign_pod_keys`` answer 401 with Kustomer's region-mismatch message. ``retry_after``
    adds ``Retry-After`` to 429s (whether Kustomer sends it is unknown). ``clock`` (epoch
    seconds) drives the rate window, so tests can move time.
    """
    sandbox = Sandbox(org_name, api_keys, rate_limit_per_minute, rules or Rules(), foreign_pod_keys,
                      retry_after, clock)  # fmt: skip
    app = Starlette(routes=sandbox.routes())
    app.state.sandbox = sandbox
    return app


class Sandbox:
    def __init__(
        self,
        org_name: str,
        api_keys: Mapping[str, Collection[str]],
        rate_limit_per_minute: int | None,
        rules: Rules,
        foreign_pod_keys: Collection[str],
        retry_after: bool,
        clock: Callable[[], float],
    ) -> None:
        self.org = Org(org_name)
        self.keys = {key: frozenset(roles) for key, roles in api_keys.items()}
        self.foreign_pod_keys = frozenset(foreign_pod_keys)
        self.rules = rules
        self.retry_after = retry_after
        self.clock = clock
        self.window = RateWindow(rate_limit_per_minute)
        self.faults = Faults()
        self.statuses: Counter[int] = Counter()
        self.log: deque[dict[str, Any]] = deque(maxlen=10_000)

    def routes(self) -> list[Route]:
        api = self.api
        return [
            Route("/v1/tracking/identity", api(self.identity, (TRACKING,), True), methods=["POST"]),
            Route("/v1/tracking/event", api(self.event, (TRACKING,), True), methods=["POST"]),
            Route("/v1/tracking/identityEvent", api(self.identity_event, (TRACKING,), True),
                  methods=["POST"]),
            Route("/v1/customers/{ref}", api(self.customer, READ_CUSTOMERS), methods=["GET"]),
            Route("/v1/customers/{ref}/events", api(self.events, READ_EVENTS), methods=["GET"]),
            Route("/__sandbox/state", self.state, methods=["GET"]),
            Route("/__sandbox/requests", self.requests, methods=["GET"]),
            Route("/__sandbox/reset", self.reset, methods=["POST"]),
            Route("/__sandbox/faults", self.set_faults, methods=["GET", "PUT", "DELETE"]),
            Route("/__sandbox/rate_limit", self.set_rate_limit, methods=["PUT"]),
        ]  # fmt: skip

    # -- the gates every /v1 request passes ---------------------------------------------------

    def api(
        self, handler: Handler, roles: tuple[str, ...], tracking: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if self.faults.latency_ms:
                await asyncio.sleep(self.faults.latency_ms / 1000)
            response, body = await self.gate(request, handler, roles, tracking)
            self.statuses[response.status_code] += 1
            if tracking:
                self.log.append({"method": request.method, "path": request.url.path,
                                 "status": response.status_code, "body": body})  # fmt: skip
            return response

        return endpoint

    async def gate(
        self, request: Request, handler: Handler, roles: tuple[str, ...], tracking: bool
    ) -> tuple[Response, Any]:
        host = _ORG_HOST.fullmatch(request.headers.get("host", ""))
        if host and host.group(1).lower() != self.org.name.lower():
            return error(404, "not_found", "Not Found", f"no organization {host.group(1)!r}"), None
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if key in self.foreign_pod_keys:
            detail = "Auth token associated with pod prod2 but request is being handled by prod1"
            return error(401, "unauthorized", "Unauthorized", detail), None
        if scheme.lower() != "bearer" or key not in self.keys:
            return error(401, "unauthorized", "Unauthorized", "Invalid token"), None
        now = self.clock()
        if not self.window.take(now):
            return self.throttled(now), None
        fault = self.faults.next_outcome() if tracking else None
        if fault == 429:
            return self.throttled(now, injected=True), None
        if isinstance(fault, int):
            injected = error(fault, "injected", "Injected fault", "sandbox fault")
            return self.limited(injected, now), None
        if not self.keys[key] & set(roles):
            detail = f"the API key needs one of the roles {', '.join(roles)}"
            return self.limited(error(403, "forbidden", "Forbidden", detail), now), None
        body: Any = None
        if request.method == "POST":
            try:
                body = msgspec.json.decode(await request.body())
            except msgspec.DecodeError:
                return self.limited(
                    error(400, "bad_request", "Bad Request", "invalid JSON"), now
                ), None
        response = await handler(request, body)
        if fault == "drop":
            response = LostResponse(response.status_code)
        return self.limited(response, now), body

    def throttled(self, now: float, injected: bool = False) -> Response:
        """Kustomer's 429. ``Retry-After`` (when enabled) counts to the end of the window, or
        is one second for an injected 429, which stands for a passing throttle."""
        response = error(429, "too_many_requests", "Too Many Requests", "Rate limit exceeded")
        if self.retry_after:
            wait = 1 if injected else max(1, int(self.window.started + 60 - now))
            response.headers["Retry-After"] = str(wait)
        return self.limited(response, now)

    def limited(self, response: Response, now: float) -> Response:
        response.headers.update(self.window.headers(now))
        return response

    # -- tracking ----------------------------------------------------------------------------

    async def identity(self, request: Request, body: Any) -> Response:
        problem = identity_problem(body, "")
        if problem:
            return bad_request(problem)
        visitor, customer = self.org.identify(body)
        return self.identity_document(visitor, customer)

    async def event(self, request: Request, body: Any) -> Response:
        problem = event_problem(body, "", self.rules)
        if problem:
            return bad_request(problem)
        self.org.record(self.org.visitor(body.get("trackingId")), body)
        return Response(status_code=204)

    async def identity_event(self, request: Request, body: Any) -> Response:
        if not isinstance(body, dict):
            return bad_request(Problem("", "the body must be an object with identity and event"))
        problem = identity_problem(body.get("identity"), "/identity") or event_problem(
            body.get("event"), "/event", self.rules
        )
        if problem:
            return bad_request(problem)
        identity = {"trackingId": body["event"].get("trackingId"), **body["identity"]}
        visitor, customer = self.org.identify(identity)
        self.org.record(visitor, body["event"])
        return self.identity_document(visitor, customer)

    def identity_document(self, visitor: Visitor, customer: Customer | None) -> Response:
        stamp = customer.updated_at if customer else None
        identity_id = new_id()
        related = None
        if customer:
            related = {"links": {"self": f"/v1/customers/{customer.id}"},
                       "data": {"type": "customer", "id": customer.id}}  # fmt: skip
        document = {"data": {
            "type": "tracking_identity",
            "id": identity_id,
            "attributes": {
                "trackingId": visitor.tracking_id,
                "email": customer.emails[0] if customer and customer.emails else None,
                "status": "identified" if customer else "anonymous",
                "statusAt": stamp, "createdAt": stamp, "updatedAt": stamp,
            },
            "relationships": {"org": self.org_relationship(), "customer": related},
            "links": {"self": f"/v1/tracking/identity/{identity_id}"},
        }}  # fmt: skip
        return json_response(201, document)

    # -- customer lookups ----------------------------------------------------------------------

    def lookup(self, ref: str) -> Customer | None:
        match = _LOOKUP.fullmatch(ref)
        if not match:
            return self.org.customers.get(ref)
        kind, value = match.groups()
        return self.org.find(
            *(value if kind == k else None for k in ("email", "externalId", "phone"))
        )

    async def customer(self, request: Request, body: Any) -> Response:
        customer = self.lookup(request.path_params["ref"])
        if customer is None:
            return error(404, "not_found", "Not Found", "customer not found")
        return json_response(200, {"data": self.customer_document(customer)})

    async def events(self, request: Request, body: Any) -> Response:
        customer = self.lookup(request.path_params["ref"])
        if customer is None:
            return error(404, "not_found", "Not Found", "customer not found")
        try:
            page = max(1, int(request.query_params.get("page", "1")))
            size = min(100, max(1, int(request.query_params.get("pageSize", "100"))))
        except ValueError:
            return bad_request(Problem("", "page and pageSize must be integers"))
        path = f"/v1/customers/{customer.id}/events"
        items = customer.events[(page - 1) * size : page * size]
        pages = max(1, -(-len(customer.events) // size))

        def link(n: int) -> str | None:
            return f"{path}?page={n}&pageSize={size}" if 1 <= n <= pages else None

        return json_response(200, {
            "meta": {"pageSize": size, "page": page, "total": len(customer.events),
                     "totalPages": pages},
            "links": {"self": link(page) or path, "first": link(1), "prev": link(page - 1),
                      "next": link(page + 1), "last": link(pages)},
            "data": items,
        })  # fmt: skip

    def customer_document(self, customer: Customer) -> dict[str, Any]:
        display = customer.name or (customer.emails[0] if customer.emails else customer.external_id)
        externals = [customer.external_id] if customer.external_id else []
        return {
            "type": "customer",
            "id": customer.id,
            "attributes": {
                "name": customer.name,
                "displayName": display,
                "externalId": customer.external_id,
                "externalIds": [{"externalId": x, "verified": False} for x in externals],
                "emails": [
                    {"type": "home", "email": e, "verified": False} for e in customer.emails
                ],
                "phones": [
                    {"type": "mobile", "phone": p, "verified": False} for p in customer.phones
                ],
                "createdAt": customer.created_at,
                "updatedAt": customer.updated_at,
                "lastActivityAt": customer.events[-1]["attributes"]["createdAt"]
                if customer.events
                else None,
            },
            "relationships": {"org": self.org_relationship()},
            "links": {"self": f"/v1/customers/{customer.id}"},
        }

    def org_relationship(self) -> dict[str, Any]:
        return {"links": {"self": f"/v1/orgs/{self.org.id}"},
                "data": {"type": "org", "id": self.org.id}}  # fmt: skip

    # -- admin ---------------------------------------------------------------------------------

    async def state(self, request: Request) -> Response:
        """Everything that landed: customers with their timelines, anonymous visitors, counters."""
        anonymous = [
            {"trackingId": v.tracking_id, "events": v.pending}
            for v in self.org.visitors.values()
            if v.pending
        ]
        return json_response(200, {
            "org": {"name": self.org.name, "id": self.org.id},
            "customers": [
                {**self.customer_document(c)["attributes"], "id": c.id, "events": c.events}
                for c in self.org.customers.values()
            ],
            "anonymous": anonymous,
            "statuses": {str(s): n for s, n in sorted(self.statuses.items())},
            "rate_limit": {"per_minute": self.window.limit, "used": self.window.used,
                           "rejected": self.window.rejected},
            "faults": self.faults.to_json(),
        })  # fmt: skip

    async def requests(self, request: Request) -> Response:
        """The last 10,000 tracking requests: method, path, status and body (never the key)."""
        return json_response(200, {"data": list(self.log)})

    async def reset(self, request: Request) -> Response:
        """Forget customers, visitors, counters, the rate window and faults; keep the config."""
        self.org = Org(self.org.name)
        self.window = RateWindow(self.window.limit)
        self.faults = Faults()
        self.statuses.clear()
        self.log.clear()
        return Response(status_code=204)

    async def set_faults(self, request: Request) -> Response:
        """PUT replaces the faults with the body's fields (see ``Faults``); DELETE clears them."""
        if request.method == "PUT":
            try:
                faults = msgspec.json.decode(await request.body(), type=FaultsBody)
            except msgspec.MsgspecError as e:
                return bad_request(Problem("", str(e)))
            self.faults = Faults(**msgspec.structs.asdict(faults))
            if faults.seed is not None:
                self.faults.rng.seed(faults.seed)
        elif request.method == "DELETE":
            self.faults = Faults()
        return json_response(200, self.faults.to_json())

    async def set_rate_limit(self, request: Request) -> Response:
        """``{"per_minute": n}`` switches the plan (``null`` turns the limit off)."""
        try:
            body = msgspec.json.decode(await request.body(), type=RateLimitBody)
        except msgspec.MsgspecError as e:
            return bad_request(Problem("", str(e)))
        self.window = RateWindow(body.per_minute)
        return json_response(200, {"per_minute": body.per_minute})


class FaultsBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    error_rate: float = msgspec.field(default=0.0)
    error_status: int = 503
    throttle_rate: float = 0.0
    drop_rate: float = 0.0
    latency_ms: float = 0.0
    script: list[int | str] = []
    seed: int | None = None


class RateLimitBody(msgspec.Struct, forbid_unknown_fields=True):
    per_minute: int | None


class LostResponse(Response):
    """Starts the response and never finishes it: the server closes the connection mid-way."""

    def __init__(self, status_code: int) -> None:
        super().__init__(status_code=status_code)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"64")]
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})


def json_response(status: int, document: Any) -> Response:
    return Response(msgspec.json.encode(document), status, media_type="application/json")


def error(status: int, code: str, title: str, detail: str) -> Response:
    """Kustomer's JSON:API error shape."""
    return json_response(status, {"errors": [{"status": str(status), "code": code, "title": title,
                                     "detail": detail}]})  # fmt: skip


def bad_request(problem: Problem) -> Response:
    document = {
        "errors": [
            {
                "status": "400",
                "code": "bad_request",
                "title": "Bad Request",
                "detail": problem.detail,
                "source": {"pointer": problem.pointer},
            }
        ]
    }
    return json_response(400, document)  # fmt: skip
