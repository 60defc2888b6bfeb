"""The OpenAPI description of csroute's HTTP APIs: ingestion (``/v1/*``), operations and admin.

This module is the one source: ``GET /openapi.json`` serves it, ``docs/openapi.json`` is
written from it (``python scripts/openapi.py``; a test checks the copy is current), and a
schema-driven fuzzer (schemathesis) checks the running server against it in the test suite.

Schemas say only what the server enforces, no more: a constraint declared here but not
checked would make the fuzzer's "invalid" requests succeed. Rules the schema language cannot
say (``userId`` or ``anonymousId`` non-empty, ISO-8601 forms, byte and depth limits) are in
the descriptions and in docs/ingestion.md.
"""

from __future__ import annotations

import json
from typing import Any, Final

from csroute.events.model import EVENT_TYPES
from csroute.ops.params import MAX_BODY, MAX_ID, MAX_IDS, MAX_NAME, MAX_PAGE, NO_NUL

_REF = "#/components/schemas/"
_JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _errors(statuses: dict[int, str]) -> dict[str, Any]:
    return {str(status): _json(_ref("Error"), why) for status, why in statuses.items()}


_ID_VALUE: Final = {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "null"}]}
_OBJECT: Final = {"anyOf": [{"type": "object"}, {"type": "null"}]}
_NAME: Final = {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "pattern": NO_NUL}
_STRING: Final = {"anyOf": [{"type": "string"}, {"type": "null"}]}

_EVENT_FIELDS: Final = {
    "userId": _ID_VALUE,
    "anonymousId": _ID_VALUE,
    "messageId": _STRING,
    "event": _STRING,
    "name": _STRING,
    "properties": _OBJECT,
    "traits": _OBJECT,
    "context": _OBJECT,
    "integrations": _OBJECT,
    "timestamp": _STRING,
    "originalTimestamp": _STRING,
    "sentAt": _STRING,
}

_INGESTION_ERRORS: Final = {
    400: "Malformed body, or the event (every event of a batch) broke a rule; `field` and "
    "`rule` say which.",
    401: "No write key, or an unknown one.",
    404: "The write key's source is disabled.",
    408: "The body did not arrive within `limits.body_timeout_s`; the connection is closed.",
    413: "A size limit (`max_request_bytes`, `max_event_bytes`, `max_batch_events`).",
    415: "Unsupported `Content-Type` or `Content-Encoding`.",
    503: "The store could not commit; nothing was stored: retry.",
}

_ADMIN_ERRORS: Final = {
    400: "A parameter or a body field broke a rule; `field` and `rule` say which.",
    401: "Missing or wrong admin token.",
    503: "The store is unavailable.",
}


def _single(kind: str) -> dict[str, Any]:
    """The body of ``/v1/<kind>``: one event, whose ``type`` is implied by the path."""
    properties = {**_EVENT_FIELDS, "type": {"enum": [kind, None]}, "writeKey": _STRING}
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    required = {"track": "event", "group": "groupId", "alias": "previousId"}.get(kind)
    if required == "event":
        properties["event"] = {"type": "string", "minLength": 1}
    elif required is not None:
        properties[required] = {"anyOf": [{"type": "string", "minLength": 1}, {"type": "number"}]}
    if required is not None:
        schema["required"] = [required]
    return schema


def _ingestion(kind: str) -> dict[str, Any]:
    batch = kind in ("batch", "import")
    what = "a batch of events" if batch else f"one {kind} event"
    return {
        "post": {
            "operationId": f"ingest_{kind}",
            "tags": ["ingestion"],
            "summary": f"Ingest {what}",
            "description": (
                "Answered only after the events are durably stored. The write key is the "
                "HTTP Basic username, or `writeKey` in the body. The user is `userId`, else "
                "`anonymousId`: one of them must be a non-empty string or a number. "
                "See docs/ingestion.md for every rule and limit."
            ),
            "security": [{"writeKey": []}, {}],
            "requestBody": {
                "required": True,
                "content": {_JSON: {"schema": _ref("Batch") if batch else _single(kind)}},
            },
            "responses": {
                "200": _json(
                    _ref("Accepted"), "Stored (some events of a batch may be listed as rejected)."
                ),
                **_errors(_INGESTION_ERRORS),
            },
        }
    }


def _admin(operation_id: str, summary: str, response: dict[str, Any], **more: Any) -> Any:
    return {
        "operationId": operation_id,
        "tags": ["admin"],
        "summary": summary,
        "security": [{"adminToken": []}],
        **more,
        "responses": {"200": _json(response, "Done."), **_errors(_ADMIN_ERRORS)},
    }


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {_JSON: {"schema": _ref(name)}}}


def _count(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [name],
        "properties": {name: {"type": "integer", "minimum": 0}},
    }


_DEAD_LETTER: Final = {
    "type": "object",
    "required": ["id", "destination", "seq", "user", "attempts", "error", "created_at"],
    "properties": {
        "id": {"type": "integer"},
        "destination": {"type": "string"},
        "seq": {"type": "integer"},
        "user": {"type": "string"},
        "attempts": {"type": "integer"},
        "error": {"type": "string"},
        "status": {"type": ["integer", "null"]},
        "created_at": {"type": "number"},
        "event": {},
        "request": {},
        "response": {"type": "string"},
    },
}

_SCHEMAS: Final = {
    "Error": {
        "type": "object",
        "required": ["error", "field", "rule"],
        "properties": {
            "error": {"type": "string", "description": "What is wrong, for people."},
            "field": {"type": "string", "description": "JSON path of the value; '' = body."},
            "rule": {"type": "string", "description": "Stable name of the rule broken."},
            "code": {"type": "string", "description": "`rule` again (read by the SDKs)."},
            "message": {"type": "string", "description": "`error` again (read by the SDKs)."},
            "accepted": {"type": "integer"},
            "rejected": {"type": "array", "items": _ref("Rejected")},
        },
    },
    "Rejected": {
        "type": "object",
        "required": ["index", "field", "rule", "error"],
        "properties": {
            "index": {"type": ["integer", "null"]},
            "field": {"type": "string"},
            "rule": {"type": "string"},
            "error": {"type": "string"},
        },
    },
    "Accepted": {
        "type": "object",
        "required": ["success", "accepted"],
        "properties": {
            "success": {"const": True},
            "accepted": {"type": "integer", "minimum": 1},
            "rejected": {"type": "array", "items": _ref("Rejected")},
        },
    },
    "Event": {
        "type": "object",
        "properties": {**_EVENT_FIELDS, "type": {"enum": sorted(EVENT_TYPES)}},
        "required": ["type"],
        "description": "A Segment-spec event; unknown fields are kept as sent.",
    },
    "Batch": {
        "type": "object",
        "required": ["batch"],
        "properties": {
            "batch": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "description": "An `Event`: events that break a rule are listed "
                    "in the response as rejected, and the others are stored."
                },
            },
            "context": _OBJECT,
            "integrations": _OBJECT,
            "sentAt": _STRING,
            "writeKey": _STRING,
        },
    },
    "ReplayRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "ids": {
                "type": "array",
                "maxItems": MAX_IDS,
                "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            },
            "destination": {
                "anyOf": [
                    _NAME,
                    {"type": "null"},
                ]
            },
            "all": {"type": "boolean"},
        },
    },
    "ForgetRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["user_id"],
        "properties": {
            "user_id": _NAME,
            "destinations": {
                "type": "array",
                "maxItems": MAX_IDS,
                "items": _NAME,
            },
        },
    },
    "Forgotten": {
        "type": "object",
        "required": ["destination", "dropped", "deleted", "error"],
        "properties": {
            "destination": {"type": "string"},
            "dropped": {"type": "integer"},
            "deleted": {"type": "boolean"},
            "error": {"type": ["string", "null"]},
        },
    },
    "DeadLetter": _DEAD_LETTER,
}

_STATUS: Final = {"type": "object", "required": ["status"], "properties": {"status": {}}}


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document, as served at ``/openapi.json``."""
    paths: dict[str, Any] = {
        f"/v1/{kind}": _ingestion(kind) for kind in (*sorted(EVENT_TYPES), "batch", "import")
    }
    paths["/health"] = {
        "get": {
            "operationId": "health",
            "tags": ["operations"],
            "summary": "The process is alive",
            "responses": {"200": _json(_STATUS, "Alive.")},
        }
    }
    paths["/ready"] = {
        "get": {
            "operationId": "ready",
            "tags": ["operations"],
            "summary": "The store can commit",
            "responses": {
                "200": _json(_STATUS, "Ready."),
                "503": _json(_STATUS, "The store is unavailable."),
            },
        }
    }
    paths["/metrics"] = {
        "get": {
            "operationId": "metrics",
            "tags": ["operations"],
            "summary": "Prometheus metrics",
            "responses": {
                "200": {"description": "Prometheus text.", "content": {"text/plain": {}}}
            },
        }
    }
    paths["/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "tags": ["operations"],
            "summary": "This document",
            "responses": {"200": _json({"type": "object"}, "The OpenAPI document.")},
        }
    }
    paths["/admin/status"] = {
        "get": _admin(
            "admin_status",
            "Delivery status per destination",
            {"type": "object", "additionalProperties": {"type": "object"}},
        )
    }
    paths["/admin/dead-letters"] = {
        "get": _admin(
            "list_dead_letters",
            "Dead letters, oldest first, a page at a time",
            {"type": "array", "items": _ref("DeadLetter")},
            parameters=[
                {
                    "name": "destination",
                    "in": "query",
                    "schema": {"type": "string", "maxLength": MAX_NAME, "pattern": NO_NUL},
                },
                {
                    "name": "after_id",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                },
            ],
        )
    }
    shown = _admin(
        "show_dead_letter",
        "One dead letter with its event, request and response (secrets masked)",
        _ref("DeadLetter"),
        parameters=[
            {
                "name": "id",
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            }
        ],
    )
    shown["responses"]["404"] = _json(_ref("Error"), "No such dead letter.")
    paths["/admin/dead-letters/{id}"] = {"get": shown}
    for action, counted, summary in (
        ("replay", "replayed", "Queue dead letters for delivery again"),
        ("discard", "discarded", "Delete dead letters"),
    ):
        paths[f"/admin/dead-letters/{action}"] = {
            "post": _admin(
                f"{action}_dead_letters",
                summary,
                _count(counted),
                requestBody=_body("ReplayRequest"),
            )
        }
    forget = _admin(
        "forget_user",
        "Drop a user's queued events and delete them where the destination can",
        {"type": "array", "items": _ref("Forgotten")},
        requestBody=_body("ForgetRequest"),
    )
    forget["responses"]["502"] = _json(
        {"type": "array", "items": _ref("Forgotten")}, "A destination's deletion failed."
    )
    paths["/admin/forget"] = {"post": forget}
    for operations in paths.values():
        for operation in operations.values():
            if operation.get("requestBody") is not None and operation["tags"] == ["admin"]:
                operation["responses"]["408"] = _json(_ref("Error"), "The body came too slowly.")
                operation["responses"]["413"] = _json(
                    _ref("Error"), f"The body exceeds {MAX_BODY} bytes."
                )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "csroute",
            "version": "1",
            "description": "Segment/RudderStack-compatible ingestion, operations and the "
            "admin API (present only when `admin.token` is set). Every error body names the "
            "field and the rule it broke.",
        },
        "paths": paths,
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "writeKey": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "The source's write key as the username, no password.",
                },
                "adminToken": {"type": "http", "scheme": "bearer"},
            },
        },
    }


def rendered() -> str:
    """The document as written to docs/openapi.json (stable order, so diffs stay small)."""
    return json.dumps(document(), indent=2) + "\n"
