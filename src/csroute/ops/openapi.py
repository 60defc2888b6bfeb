"""The OpenAPI description of csroute's HTTP APIs: ingestion (``/v1/*``, the browser SDKs'
paths), operations, admin, and the triggers' push endpoint.

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
from csroute.gateway.cors import MAX_REQUEST_HEADERS
from csroute.ops.params import MAX_BODY, MAX_ID, MAX_IDS, MAX_NAME, MAX_PAGE, NO_NUL
from csroute.triggers.settings import SIGNATURE_HEADER

_REF = "#/components/schemas/"
_JSON = "application/json"
_WRITE_KEY_ANYWHERE: Final[list[dict[str, list[str]]]] = [
    {"writeKey": []},
    {"writeKeyQuery": []},
    {},
]
"""An event's write key: Basic auth, ``?writeKey=``, or ``writeKey`` in the body."""


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
    403: "The request's `Origin` is not in the source's `allowed_origins` (rule `cors_origin`).",
    404: "The write key's source is disabled.",
    408: "The body did not arrive within `limits.body_timeout_s`; the connection is closed.",
    413: "A size limit (`max_request_bytes`, `max_event_bytes`, `max_batch_events`).",
    415: "Unsupported `Content-Encoding` (gzip or none); `Content-Type` is never checked.",
    503: "The store could not commit; nothing was stored: retry.",
}

_PIXEL_ERRORS: Final = {
    400: "The event broke a rule, or the query string is not UTF-8 or nested too deeply.",
    401: "No `writeKey`, or an unknown one.",
    404: "The write key's source is disabled.",
    413: "The query string exceeds `max_event_bytes`.",
    503: "The store could not commit; nothing was stored.",
}

_SDK_CONFIG_ERRORS: Final = {
    401: "No write key, or an unknown one.",
    403: "The request's `Origin` is not in the source's `allowed_origins`.",
    404: "The write key's source is disabled.",
}

_PUSH_ERRORS: Final = {
    400: "The body is not a JSON object (`json`, `utf8`, `type`), or its record has no `id` or "
    "no timestamp (`record`).",
    401: "The signature is missing or does not match the body (rule `signature`).",
    404: "No trigger of that name receives pushes (rule `not_found`).",
    503: "An output failed; nothing was handed on: retry (rule `hand_on`).",
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


def _ingestion(kind: str, operation_id: str, by: str = "") -> dict[str, Any]:
    """``POST`` of ``kind`` (an event type, ``batch`` or ``import``); ``by``: which SDK uses
    this path rather than the long one."""
    batch = kind in ("batch", "import")
    what = "a batch of events" if batch else f"one {kind} event"
    return {
        "post": {
            "operationId": operation_id,
            "tags": ["ingestion"],
            "summary": f"Ingest {what}" + (f" ({by})" if by else ""),
            "description": (
                "Answered only after the events are durably stored. The write key is the "
                "HTTP Basic username, `writeKey` in the query string, or `writeKey` in the "
                "body. The user is `userId`, else `anonymousId`: one of them must be a "
                "non-empty string or a number. `Content-Type` is not checked: the body must "
                "be JSON whatever its label. See docs/ingestion.md for every rule and limit."
            ),
            "security": _WRITE_KEY_ANYWHERE,
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
        },
        "options": _preflight(operation_id),
    }


def _preflight(operation_id: str) -> dict[str, Any]:
    """The CORS preflight browsers send before a request to a gateway path."""
    return {
        "operationId": f"preflight_{operation_id}",
        "tags": ["browser"],
        "summary": "CORS preflight",
        "description": "Passes when any enabled source takes the `Origin` (none listed: any).",
        "parameters": [
            {"name": "Origin", "in": "header", "schema": {"type": "string"}},
            {
                "name": "Access-Control-Request-Headers",
                "in": "header",
                "schema": {"type": "string", "maxLength": MAX_REQUEST_HEADERS},
            },
        ],
        "responses": {
            "204": {"description": "Allowed: the `Access-Control-Allow-*` headers."},
            **_errors(
                {
                    400: "`Access-Control-Request-Headers` is too long (rule `cors_headers`).",
                    403: "No enabled source takes this `Origin` (rule `cors_origin`).",
                }
            ),
        },
    }


def _pixel(kind: str) -> dict[str, Any]:
    """``GET /pixel/v1/<kind>``: an event in the query string, for where no script runs."""
    named = {"track": "event", "page": "name"}[kind]
    return {
        "get": {
            "operationId": f"pixel_{kind}",
            "tags": ["browser"],
            "summary": f"Ingest one {kind} event from the query string (an image request)",
            "description": (
                "Each parameter sets the field its dotted name points to "
                "(`properties.plan=pro` sets `properties.plan`); values are strings, "
                "`channel` defaults to `web`. The event then follows the rules of "
                f"`POST /v1/{kind}`. Errors are JSON, as elsewhere."
            ),
            "security": [{"writeKeyQuery": []}],
            "parameters": [
                {"name": name, "in": "query", "schema": {"type": "string"}}
                for name in ("userId", "anonymousId", named)
            ],
            "responses": {
                "200": {
                    "description": "Stored: a 1x1 transparent GIF.",
                    "content": {"image/gif": {"schema": {"type": "string", "format": "binary"}}},
                },
                **_errors(_PIXEL_ERRORS),
            },
        },
        "options": _preflight(f"pixel_{kind}"),
    }


def _sdk_config(operation_id: str, summary: str, **more: Any) -> dict[str, Any]:
    """A browser SDK's settings, built from the write key's source (``HEAD`` works too)."""
    return {
        "get": {
            "operationId": operation_id,
            "tags": ["browser"],
            "summary": summary,
            "description": "No destinations (csroute delivers server-side), SDK metrics off.",
            **more,
            "responses": {
                "200": _json({"type": "object"}, "The settings."),
                **_errors(_SDK_CONFIG_ERRORS),
            },
        },
        "options": _preflight(operation_id),
    }


def _sink(operation_id: str, sdk: str) -> dict[str, Any]:
    return {
        "post": {
            "operationId": operation_id,
            "tags": ["browser"],
            "summary": f"{sdk}'s reports about itself: answered, never stored",
            "requestBody": {"content": {_JSON: {"schema": {}}}},
            "responses": {"200": _json(_SUCCESS, "Ignored.")},
        },
        "options": _preflight(operation_id),
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
_SUCCESS: Final = {"type": "object", "required": ["success"], "properties": {"success": {}}}


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document, as served at ``/openapi.json``."""
    paths: dict[str, Any] = {}
    for kind in (*sorted(EVENT_TYPES), "batch", "import"):
        paths[f"/v1/{kind}"] = _ingestion(kind, f"ingest_{kind}")
    short = "@segment/analytics-next's short path"
    for kind in (*sorted(EVENT_TYPES), "batch"):
        paths[f"/v1/{kind[0]}"] = _ingestion(kind, f"ingest_{kind}_short", short)
    paths["/beacon/v1/batch"] = _ingestion(
        "batch", "ingest_beacon", "@rudderstack/analytics-js with `useBeacon`: `?writeKey=`"
    )
    paths["/pixel/v1/track"] = _pixel("track")
    paths["/pixel/v1/page"] = _pixel("page")
    paths["/sourceConfig/"] = _sdk_config(
        "rudderstack_source_config",
        "@rudderstack/analytics-js v3's `configUrl`",
        security=[{"writeKey": []}, {"writeKeyQuery": []}],
    )
    paths["/v1/projects/{writeKey}/settings"] = _sdk_config(
        "segment_settings",
        "@segment/analytics-next's `cdnURL`",
        parameters=[
            {"name": "writeKey", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
    )
    paths["/v1/m"] = _sink("sdk_metrics_segment", "@segment/analytics-next")
    paths["/rsaMetrics"] = _sink("sdk_metrics_rudderstack", "@rudderstack/analytics-js")
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
    stream = _admin(
        "stream",
        "The live capture as server-sent events (docs/console.md); it never ends by itself."
        " The web console's session cookie is accepted instead of the token.",
        {},
        parameters=[
            {"name": name, "in": "query", "schema": {"type": "string"}}
            for name in ("source", "destination", "user", "type", "event", "outcome")
        ],
    )
    stream["responses"]["200"] = {
        "description": "One `data:` line of JSON per record, `: live` once caught up.",
        "content": {"text/event-stream": {}},
    }
    stream["responses"]["404"] = _json(_ref("Error"), "This process captures nothing.")
    paths["/admin/stream"] = {"get": stream}
    paths["/triggers/{name}/webhook"] = {"post": _push()}
    for operations in paths.values():
        for operation in operations.values():
            if operation["tags"] in (["admin"], ["triggers"]) and "requestBody" in operation:
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
                "writeKeyQuery": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "writeKey",
                    "description": "The source's write key in the query string (what "
                    "RudderStack's beacon and pixel requests carry).",
                },
                "adminToken": {"type": "http", "scheme": "bearer"},
                "custifySignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": SIGNATURE_HEADER,
                    "description": "HMAC-SHA256 of the raw body under the trigger's "
                    "`push.secret`, in hex, with or without `sha256=`. The header's name is "
                    "the trigger's `push.signature_header`.",
                },
            },
        },
    }


def _push() -> dict[str, Any]:
    """Custify's outgoing webhooks, one endpoint per trigger with a ``push:`` section."""
    return {
        "operationId": "trigger_webhook",
        "tags": ["triggers"],
        "summary": "A record Custify pushes to the trigger `name` (see docs/triggers.md)",
        "security": [{"custifySignature": []}],
        "parameters": [
            {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "requestBody": {"required": True, "content": {_JSON: {"schema": {"type": "object"}}}},
        "responses": {
            "200": _json(
                {"type": "object", "description": "`accepted`, `duplicate` or `ignored`."},
                "Handed on, absorbed as a duplicate, or another event (ignored).",
            ),
            **_errors(_PUSH_ERRORS),
        },
    }


def rendered() -> str:
    """The document as written to docs/openapi.json (stable order, so diffs stay small)."""
    return json.dumps(document(), indent=2) + "\n"
