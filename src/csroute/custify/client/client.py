"""``AsyncCustify``: one object per connection, with one attribute per resource group."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

from csroute.custify.api import BASE_URL
from csroute.custify.client.comments import Comments
from csroute.custify.client.companies import Companies
from csroute.custify.client.connection import Connection
from csroute.custify.client.core import Call, Core, Pace, query
from csroute.custify.client.custom_data import CustomData
from csroute.custify.client.envelopes import Record, items
from csroute.custify.client.events import Batch, Events
from csroute.custify.client.files import Files
from csroute.custify.client.financials import Financials
from csroute.custify.client.notes import Notes
from csroute.custify.client.people import People
from csroute.custify.client.reads import (
    CalculatedMetrics,
    HealthScores,
    Lifecycles,
    Meetings,
    Objectives,
    Playbooks,
    Segments,
    Surveys,
)
from csroute.custify.client.scores import Scores
from csroute.custify.client.tags import Tags
from csroute.custify.client.tasks import Tasks
from csroute.custify.client.tickets import Tickets
from csroute.custify.client.time_tracks import TimeTracks
from csroute.router.ratelimit import Limiter


class AsyncCustify:
    """The Custify API over aiohttp. Use ``async with``, or ``await close()`` when done.

    Give either ``api_key`` (and ``base_url``; ``options`` are further ``Connection`` fields
    such as ``rate_limit_requests``) or a ready ``connection``. With ``dry_run`` nothing is
    sent: each request is appended to ``recorded`` (API key masked) and answered with ``{}``.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str = BASE_URL,
        *,
        connection: Connection | None = None,
        dry_run: bool = False,
        **options: Any,
    ) -> None:
        if connection is None:
            if not api_key:
                raise ValueError("an API key or a connection is required")
            connection = Connection(api_key, base_url.rstrip("/"), **options)
        self.connection = connection
        core = self._core = Core(connection, dry_run=dry_run)
        self.people = People(core)
        self.companies = Companies(core)
        self.events = Events(core)
        self.batch = Batch(core)
        self.notes = Notes(core)
        self.tags = Tags(core)
        self.scores = Scores(core)
        self.tickets = Tickets(core)
        self.tasks = Tasks(core)
        self.comments = Comments(core)
        self.files = Files(core)
        self.deals = Financials(core, "deal")
        self.invoices = Financials(core, "invoice")
        self.subscriptions = Financials(core, "subscription")
        self.time_tracks = TimeTracks(core)
        self.custom_data = CustomData(core)
        self.meetings = Meetings(core)
        self.surveys = Surveys(core)
        self.health_scores = HealthScores(core)
        self.calculated_metrics = CalculatedMetrics(core)
        self.segments = Segments(core)
        self.lifecycles = Lifecycles(core)
        self.playbooks = Playbooks(core)
        self.objectives = Objectives(core)

    @property
    def limiter(self) -> Limiter:
        """The process-wide limiter of this API key, shared with the pipeline (for metrics)."""
        return self._core.limiter

    @property
    def recorded(self) -> list[Record]:
        """The requests a dry run would have sent, in order."""
        return self._core.recorded

    async def request(self, method: str, path: str, *, params: Any = None, body: Any = None) -> Any:
        """Any other Custify call, with the same auth, rate limit, retries and errors."""
        return await self._core.request(Call(method, path, query(**(params or {})), body))

    def listing(
        self, path: str, key: str, per_page: int, *, params: Any = None, pace: Pace | None = None
    ) -> AsyncIterator[Record]:
        """Every record of any listing (``key`` names its array), paged as the resources are;
        ``pace`` is awaited before each page request."""
        return self._core.pages(Call("GET", path, query(**(params or {}))), key, per_page, pace)

    async def test_connection(self) -> Record:
        """One cheap read (``GET /people/all``, one item): raises AuthenticationError for a bad
        key, PermissionDenied when the plan or key lacks API access."""
        body = await self._core.request(Call("GET", "/people/all", query(itemsPerPage=1)))
        _, total = items(body, "people")
        return {"ok": True, "connection": self.connection.describe(), "people": total}

    async def close(self) -> None:
        await self._core.close()

    async def __aenter__(self) -> AsyncCustify:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()
