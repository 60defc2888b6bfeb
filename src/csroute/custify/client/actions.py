"""Every client action as data: the CLI generates ``csroute custify <resource> <action>`` from
this table, the docs list it, and the tests walk it. Rows with ``connector`` set are the 49
actions of Konnectify's Custify connector (docs/custify-client.md); the others are the reads
around them.

An action calls ``getattr(client.<group>, <method>)`` with its ``positional`` arguments in
order, then the JSON body when it takes one, then the remaining arguments as keywords.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["write", "delete", "read", "list"]
ArgType = Literal["str", "int", "bool", "list", "json", "path"]


@dataclass(frozen=True, slots=True)
class Arg:
    name: str
    help: str
    type: ArgType = "str"
    required: bool = False
    positional: bool = False
    choices: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True, slots=True)
class Action:
    resource: str
    name: str
    group: str
    method: str
    endpoint: str
    kind: Kind = "write"
    body: bool = False
    args: tuple[Arg, ...] = ()
    connector: str | None = None

    @property
    def key(self) -> str:
        return f"{self.resource}.{self.name}"

    def call(self, client: Any, values: dict[str, Any], body: Any = None) -> Any:
        """Invoke the client method (async or sync client alike) with parsed values."""
        method = getattr(getattr(client, self.group), self.method)
        given = {name: value for name, value in values.items() if value is not None}
        positional = [given.pop(arg.name) for arg in self.args if arg.positional]
        if self.body:
            positional.append(body or {})
        return method(*positional, **given)


def _arg(name: str, help: str, **options: Any) -> Arg:
    return Arg(name, help, **options)


ID = _arg("id", "Internal Custify id.")
PERSON_IDS = (
    ID,
    _arg("user_id", "Your user id."),
    _arg("email", "The person's email."),
)
COMPANY_IDS = (ID, _arg("company_id", "Your company id."))
TAG_TYPE = _arg("type", "add or remove.", choices=("add", "remove"))
ENTITY_MODEL = _arg(
    "entity_model", "Note or Task.", required=True, positional=True, choices=("Note", "Task")
)
COMMENT_ENTITY = _arg("entity", "Internal id of the note or task.", required=True, positional=True)
SCORE_ARGS = (
    _arg("score", "The score.", type="int", required=True),
    _arg("entity", "Internal id of the person."),
    _arg("email", "The person's email."),
    _arg("user_id", "Your user id."),
    _arg("comment", "Comment."),
    _arg("submitted_at", "When it was given (default now)."),
    _arg("survey_id", "Attach to this survey."),
)
DATA_OWNER = (
    _arg(
        "entity_model",
        "companies or people.",
        required=True,
        positional=True,
        choices=("companies", "people"),
    ),
    _arg("entity", "Internal id of the owner."),
    _arg("company_id", "Your company id of the owner."),
    _arg("user_id", "Your user id of the owner."),
)
DATA_KEY = (_arg("data_type", "Object type."), _arg("data_id", "Object id."))
TIME_TRACK_USER = (
    _arg("user", "Email or id of the Custify user logging the time.", required=True),
    _arg("owner", "JSON: company_id/user_id/email when the body has no internal ids.", type="json"),
)


def _financial(resource: str, type: str, title: str) -> list[Action]:
    path = f"/financial/{type}"
    entity = _arg("entity", f"Internal id of the {type}.")
    return [
        Action(resource, "create", resource, "create", f"POST {path}", body=True,
               connector=f"Create Financial {title}"),
        Action(resource, "update", resource, "update",
               f"POST {path}/{{entity}} or POST {path} by externalId", body=True,
               args=(entity,), connector=f"Update Financial {title}"),
        Action(resource, "upsert", resource, "upsert",
               f"POST {path}/{{entity}} if known, else POST {path} by externalId", body=True,
               args=(entity,), connector=f"Upsert Financial {title}"),
        Action(resource, "delete", resource, "delete",
               f"DELETE {path}?externalId= or {path}/{{entity}}", kind="delete",
               args=(entity, _arg("external_id", "Your externalId.")),
               connector=f"Delete Financial {title}"),
        Action(resource, "get", resource, "get", f"GET {path}/{{entity}}", kind="read",
               args=(_arg("entity", f"Internal id of the {type}.", required=True),)),
        Action(resource, "list", resource, "list", f"GET {path}", kind="list"),
    ]  # fmt: skip


def _read_only(resource: str, group: str, path: str) -> list[Action]:
    return [
        Action(resource, "list", group, "list", f"GET {path}", kind="list"),
        Action(resource, "get", group, "get", f"GET {path}/{{id}}", kind="read",
               args=(_arg("id", "Internal id.", required=True),)),
    ]  # fmt: skip


ACTIONS: tuple[Action, ...] = (
    # People (7, with Insert Event)
    Action("people", "create", "people", "create", "lookup, then POST /people", body=True,
           connector="Create Person"),
    Action("people", "update", "people", "update", "lookup, then POST /people with id", body=True,
           connector="Update Person"),
    Action("people", "upsert", "people", "upsert", "POST /people", body=True,
           connector="Upsert Person"),
    Action("people", "get", "people", "get", "GET /people/{id}, ?user_id= or ?email=",
           kind="read", args=PERSON_IDS, connector="Get Person"),
    Action("people", "delete", "people", "delete", "DELETE /people/{id}, ?user_id= or ?email=",
           kind="delete", args=PERSON_IDS, connector="Delete Person"),
    Action("people", "tag", "people", "tag", "POST /people/tag",
           args=(_arg("ids", "Internal person id (repeatable).", type="list", required=True),
                 _arg("tag", "Tag id.", required=True), TAG_TYPE),
           connector="Add/Remove Tag"),
    Action("events", "insert", "events", "insert", "POST /event", body=True,
           connector="Insert Event"),
    Action("people", "list", "people", "list", "GET /people/all", kind="list"),
    Action("batch", "submit", "batch", "submit", "POST /batch",
           args=(_arg("jobs", "JSON array of {type, payload} jobs.", type="json", required=True),
                 _arg("synchronous", "Apply before answering (at most 3 jobs).", type="bool"))),
    Action("batch", "status", "batch", "status", "GET /batch/{id}", kind="read",
           args=(_arg("job_id", "The batch's job id.", required=True),)),
    # Companies (5)
    Action("companies", "create", "companies", "create", "lookup, then POST /company",
           body=True, connector="Create Company"),
    Action("companies", "update", "companies", "update", "lookup, then POST /company with id",
           body=True, connector="Update Company"),
    Action("companies", "upsert", "companies", "upsert", "POST /company", body=True,
           connector="Upsert Company"),
    Action("companies", "get", "companies", "get", "GET /company/{id} or ?company_id=",
           kind="read", args=COMPANY_IDS, connector="Get Company"),
    Action("companies", "delete", "companies", "delete", "DELETE /company/{id} or ?company_id=",
           kind="delete", args=COMPANY_IDS, connector="Delete Company"),
    Action("companies", "list", "companies", "list", "GET /company/all", kind="list"),
    Action("companies", "people", "companies", "people", "GET /company/people/{id}",
           kind="list", args=(_arg("id", "Internal company id.", required=True),)),
    # Notes (3)
    Action("notes", "create", "notes", "create", "POST /note", body=True,
           connector="Create Note"),
    Action("notes", "update", "notes", "update", "POST /note/{id}", body=True,
           args=(_arg("id", "Internal note id.", required=True, positional=True),),
           connector="Update Note"),
    Action("notes", "upsert", "notes", "upsert", "POST /note/{id} if id, else POST /note",
           body=True, args=(_arg("id", "Internal note id, if known."),),
           connector="Upsert Note"),
    Action("notes", "list", "notes", "list", "GET /note or /note/{entity}", kind="list",
           args=(_arg("entity", "Only the notes of this person or company (internal id)."),)),
    # Tags (5)
    Action("tags", "create", "tags", "create", "POST /tag", body=True, connector="Create Tag"),
    Action("tags", "update", "tags", "update", "POST /tag/{id}", body=True,
           args=(_arg("id", "Tag id.", required=True, positional=True),),
           connector="Update Tag"),
    Action("tags", "upsert", "tags", "upsert", "POST /tag/{id} if id, else POST /tag",
           body=True, args=(_arg("id", "Tag id, if known."),), connector="Upsert Tag"),
    Action("tags", "delete", "tags", "delete", "DELETE /tag/{id}", kind="delete",
           args=(_arg("id", "Tag id.", required=True),), connector="Delete Tag"),
    Action("tags", "entity", "tags", "entity", "PATCH /tag/entity",
           args=(_arg("ids", "Internal entity id (repeatable).", type="list", required=True),
                 _arg("tag", "Tag id.", required=True),
                 _arg("category", "Category of the entities (people, company, ...).",
                      required=True),
                 TAG_TYPE),
           connector="Add/Remove Tag from Entity"),
    Action("tags", "get", "tags", "get", "GET /tag/{id}", kind="read",
           args=(_arg("id", "Tag id.", required=True),)),
    Action("tags", "list", "tags", "list", "GET /tag", kind="list"),
    # Scores (2)
    Action("scores", "nps", "scores", "nps", "POST /nps_score/{entity}, ?email= or ?user_id=",
           args=SCORE_ARGS, connector="Assign NPS Score"),
    Action("scores", "csat", "scores", "csat", "POST /csat_score/{entity}, ?email= or ?user_id=",
           args=SCORE_ARGS, connector="Assign CSAT Score"),
    # Tickets (4)
    Action("tickets", "create", "tickets", "create", "POST /ticket", body=True,
           connector="Create Ticket"),
    Action("tickets", "update", "tickets", "update", "PUT /ticket/{externalId}", body=True,
           args=(_arg("external_id", "The ticket's externalId.", required=True,
                      positional=True),),
           connector="Update Ticket"),
    Action("tickets", "delete", "tickets", "delete", "DELETE /ticket/{externalId}",
           kind="delete", args=(_arg("external_id", "The ticket's externalId.", required=True),),
           connector="Delete Ticket"),
    Action("tickets", "reply", "tickets", "reply", "POST /ticket/{externalId}/reply", body=True,
           args=(_arg("external_id", "The ticket's externalId.", required=True,
                      positional=True),),
           connector="Reply To Ticket"),
    Action("tickets", "list", "tickets", "list", "GET /ticket or /ticket/{entity}", kind="list",
           args=(_arg("entity", "Only this person's or company's tickets (internal id)."),)),
    # Tasks (2)
    Action("tasks", "create", "tasks", "create", "POST /task", body=True,
           connector="Create Task"),
    Action("tasks", "update", "tasks", "update", "PUT /task/{id} with _id", body=True,
           args=(_arg("id", "Internal task id (_id).", required=True, positional=True),),
           connector="Update Task"),
    Action("tasks", "get", "tasks", "get", "GET /task/{id} or ?externalId=", kind="read",
           args=(_arg("id", "Internal task id."), _arg("external_id", "Your externalId."))),
    Action("tasks", "list", "tasks", "list", "GET /task", kind="list"),
    # Comments (3)
    Action("comments", "create", "comments", "create", "POST /comment/{entityModel}/{entity}",
           body=True, args=(ENTITY_MODEL, COMMENT_ENTITY), connector="Create Comment"),
    Action("comments", "update", "comments", "update",
           "POST /comment/{entityModel}/{entity} with id", body=True,
           args=(ENTITY_MODEL, COMMENT_ENTITY,
                 _arg("id", "Comment id.", required=True, positional=True)),
           connector="Update Comment"),
    Action("comments", "upsert", "comments", "upsert",
           "POST /comment/{entityModel}/{entity} (with id if known)", body=True,
           args=(ENTITY_MODEL, COMMENT_ENTITY, _arg("id", "Comment id, if known.")),
           connector="Upsert Comment"),
    Action("comments", "list", "comments", "list", "GET /comment/{entityModel}/{entity}",
           kind="list", args=(ENTITY_MODEL, COMMENT_ENTITY)),
    # Files (3)
    Action("files", "upload", "files", "upload", "POST /file (multipart)",
           args=(_arg("file", "The file to upload.", type="path", required=True),
                 _arg("company_id", "Internal company id to attach to."),
                 _arg("people_id", "Internal person id to attach to."),
                 _arg("filename", "Name to give the file."),
                 _arg("content_type", "MIME type (default: from the name).")),
           connector="Upload File"),
    Action("files", "unlink", "files", "unlink", "POST /file/unlink",
           args=(_arg("file_id", "File id.", required=True),
                 _arg("company_id", "Internal company id."),
                 _arg("people_id", "Internal person id.")),
           connector="Unlink File"),
    Action("files", "portal", "files", "show_in_portal", "PUT /file/{id}/showInPortal",
           args=(_arg("id", "File id.", required=True),
                 _arg("show", "Show (--show) or hide (--no-show).", type="bool",
                      required=True)),
           connector="Enable/Disable File in Portal"),
    Action("files", "list", "files", "list", "GET /file?companyId= or ?peopleId=",
           kind="list",
           args=(_arg("company_id", "Internal company id."),
                 _arg("people_id", "Internal person id."))),
    # Financials (12)
    *_financial("deals", "deal", "Deal"),
    *_financial("invoices", "invoice", "Invoice"),
    *_financial("subscriptions", "subscription", "Subscription"),
    # Time tracks (3)
    Action("time-tracks", "create", "time_tracks", "create", "POST /time-track?user=",
           body=True, args=TIME_TRACK_USER, connector="Create Time Track"),
    Action("time-tracks", "update", "time_tracks", "update", "PUT /time-track?user=&id=",
           body=True,
           args=(_arg("id", "Internal time track id.", required=True, positional=True),
                 *TIME_TRACK_USER),
           connector="Update Time Track"),
    Action("time-tracks", "delete", "time_tracks", "delete", "DELETE /time-track?id=",
           kind="delete", args=(_arg("id", "Internal time track id.", required=True),),
           connector="Delete Time Track"),
    Action("time-tracks", "list", "time_tracks", "list", "GET /time-track", kind="list"),
    # Custom data objects
    Action("custom-data", "upsert", "custom_data", "upsert",
           "POST /custom_data/{model}/{entity} or ?company_id=|user_id=", body=True,
           args=DATA_OWNER),
    Action("custom-data", "get", "custom_data", "get", "GET /custom_data/{model}/...",
           kind="read", args=(*DATA_OWNER, *DATA_KEY)),
    Action("custom-data", "delete", "custom_data", "delete", "DELETE /custom_data/{model}/...",
           kind="delete", args=(*DATA_OWNER, *DATA_KEY)),
    # Read-only
    Action("meetings", "list", "meetings", "list",
           "GET /calendar/meeting or /calendar/meeting/{type}/{id}", kind="list",
           args=(_arg("entity_type", "company or people.", choices=("company", "people")),
                 _arg("entity_id", "Internal id of that entity."))),
    Action("surveys", "list", "surveys", "list", "GET /survey", kind="list"),
    Action("surveys", "responses", "surveys", "responses", "GET /survey/{id}/responses",
           kind="list", args=(_arg("id", "Survey id.", required=True),)),
    *_read_only("health-scores", "health_scores", "/health_score"),
    *_read_only("calculated-metrics", "calculated_metrics", "/calculated_metric"),
    *_read_only("segments", "segments", "/segment"),
    *_read_only("lifecycles", "lifecycles", "/lifecycle"),
    *_read_only("playbooks", "playbooks", "/playbook"),
    Action("objectives", "list", "objectives", "list", "GET /objective?company= or ?company_id=",
           kind="list",
           args=(_arg("company", "Internal company id."), _arg("company_id", "Your company id."))),
)  # fmt: skip

BY_KEY = {action.key: action for action in ACTIONS}
CONNECTOR_ACTIONS = tuple(action for action in ACTIONS if action.connector)
