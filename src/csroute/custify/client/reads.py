"""The read-only resources (docs/custify-api.md, "Meetings" to "Other read-only resources"):
meetings, surveys and their responses, health scores, calculated metrics, segments, lifecycles,
playbooks, customer objectives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from csroute.custify.client import validate
from csroute.custify.client.base import Group, ReadOnly
from csroute.custify.client.envelopes import Record


class HealthScores(ReadOnly):
    path, key = "/health_score", "health_scores"


class CalculatedMetrics(ReadOnly):
    """``type`` is ``company`` (Custify's default) or ``people``."""

    path, key = "/calculated_metric", "calculated_metrics"


class Segments(ReadOnly):
    """``type`` is ``people`` (Custify's default) or ``company``."""

    path, key = "/segment", "segments"


class Lifecycles(ReadOnly):
    path, key, max_per_page = "/lifecycle", "lifecycles", 200


class Playbooks(ReadOnly):
    """``type`` is ``companies`` (Custify's default) or ``people``."""

    path, key, max_per_page = "/playbook", "playbooks", 200


class Meetings(Group):
    def list(
        self,
        entity_type: str | None = None,
        entity_id: str | None = None,
        *,
        per_page: int | None = None,
        **params: Any,
    ) -> AsyncIterator[Record]:
        """Every meeting, or those of one ``company``/``people`` entity (internal id)."""
        path = "/calendar/meeting"
        if entity_type or entity_id:
            validate.required({"entity_type": entity_type, "entity_id": entity_id}, "entity_id")
            validate.choice({"entity_type": entity_type}, "entity_type", ("company", "people"))
            path = f"{path}/{entity_type}/{entity_id}"
        return self._list(path, "meetings", 50, per_page, params)


class Surveys(Group):
    def list(self, *, per_page: int | None = None) -> AsyncIterator[Record]:
        """Every survey (Custify answers a bare array with no total)."""
        return self._list("/survey", "surveys", 50, per_page, {})

    def responses(self, id: str, *, per_page: int | None = None) -> AsyncIterator[Record]:
        return self._list(f"/survey/{id}/responses", "responses", 50, per_page, {})


class Objectives(Group):
    def list(
        self,
        *,
        company: str | None = None,
        company_id: str | None = None,
        per_page: int | None = None,
        **params: Any,
    ) -> AsyncIterator[Record]:
        """The objectives of one company, by internal id (``company``) or ``company_id``."""
        name, value = validate.exactly_one(company=company, company_id=company_id)
        return self._list("/objective", "objectives", 50, per_page, {name: value, **params})
