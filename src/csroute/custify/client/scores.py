"""NPS and CSAT scores (docs/custify-api.md, "NPS and CSAT scores"): one table, two ranges."""

from __future__ import annotations

from typing import Any

from csroute.custify.client import validate
from csroute.custify.client.base import Group
from csroute.custify.client.core import Call, query
from csroute.custify.client.envelopes import Record

RANGES = {"nps": (0, 10), "csat": (1, 5)}


class Scores(Group):
    async def nps(self, score: int, **target: Any) -> Record:
        """``POST /nps_score``: 0 to 10, for a person by ``entity``, ``email`` or ``user_id``;
        optional ``comment``, ``submitted_at`` and ``survey_id``."""
        return await self._assign("nps", score, **target)

    async def csat(self, score: int, **target: Any) -> Record:
        """``POST /csat_score``: 1 to 5, same targets and options as ``nps``."""
        return await self._assign("csat", score, **target)

    async def _assign(
        self,
        kind: str,
        score: int,
        *,
        entity: str | None = None,
        email: str | None = None,
        user_id: str | None = None,
        comment: str | None = None,
        submitted_at: str | None = None,
        survey_id: str | None = None,
    ) -> Record:
        validate.integer(score, "score", *RANGES[kind])
        name, value = validate.exactly_one(entity=entity, email=email, user_id=user_id)
        path = f"/{kind}_score/{value}" if name == "entity" else f"/{kind}_score"
        params = query(**({} if name == "entity" else {name: value}), surveyId=survey_id)
        body: Record = {"score": score, "comment": comment, "submittedAt": submitted_at}
        body = {key: value for key, value in body.items() if value is not None}
        return await self._record(Call("POST", path, params, body))
