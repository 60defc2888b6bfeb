"""Custom data objects, written by ``custom-data`` batch jobs (custify-api.md 5.4 and 5.17).

(``data_type``, ``data_id``) is the unique key per entity, so a write creates or updates. The
``/custom_data`` endpoints themselves belong to the full-API sandbox (issue 5) and reuse this.
"""

from __future__ import annotations

from typing import Any

from csroute.custify.sandbox import rules
from csroute.custify.sandbox.responses import ApiError, Record
from csroute.custify.sandbox.state import State, now_iso

_MODELS = {
    "company": "companies",
    "companies": "companies",
    "customer": "people",
    "people": "people",
    "person": "people",
}


def entity_of(state: State, model: str, payload: Record) -> str:
    """The internal id of the owner, from ``entity`` or from your ``company_id``/``user_id``."""
    entity = payload.get("entity")
    records = state.companies if model == "companies" else state.people
    if isinstance(entity, str) and entity in records:
        return entity
    if entity is None and model == "companies" and payload.get("company_id") is not None:
        found = state.companies_by_company_id.get(str(payload["company_id"]))
    elif entity is None and model == "people" and payload.get("user_id") is not None:
        found = state.people_by_user_id.get(str(payload["user_id"]))
    else:
        found = None
    if found is None:
        raise ApiError(404, "Company not found" if model == "companies" else "People not found")
    return found


def upsert_custom_data(state: State, payload: Record) -> Record:
    model = _MODELS.get(str(payload.get("entityModel", "")).lower())
    if model is None:
        raise ApiError(400, "entityModel must be Company or Customer")
    data_type = rules.string_field(payload, "data_type")
    data_id = rules.identifier(payload, "data_id")
    data: Any = payload.get("data")
    if data_type is None or data_id is None or not isinstance(data, dict):
        raise ApiError(400, "data_type, data_id and data are required")
    if any(isinstance(value, dict | list) for value in data.values()):
        raise ApiError(400, "data must be a flat object")
    entity = entity_of(state, model, payload)
    key = (model, entity, data_type, data_id)
    stamp = now_iso()
    record = state.custom_data.get(key)
    if record is None:
        record = {"entity": entity, "entityModel": model, "created_at": stamp}
        state.custom_data[key] = record
    record.update({"data_type": data_type, "data_id": data_id, "data": data, "updated_at": stamp})
    return record
