"""NPS and CSAT scores (docs/custify-api.md, "NPS and CSAT scores"): ``POST /nps_score`` and ``POST
/csat_score`` for a person named by internal id (path), ``email`` or ``user_id`` (query), optionally
for a survey.

Only each person's newest score (by ``submittedAt``) is kept; an older one is accepted and
ignored. Custify gives linked companies the rounded mean of their people's scores; the response
body is undocumented, so the sandbox answers with the kept score plus those means, and a score for
a survey also becomes one of the survey's responses.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csroute.custify.sandbox import entities, rules, webhooks
from csroute.custify.sandbox.responses import ApiError, Record, json_object, json_response
from csroute.custify.sandbox.state import State, state_of

RANGES = {"nps": (0, 10), "csat": (1, 5)}


def _company_means(state: State, kind: str, person: Record) -> list[Record]:
    means = []
    for company in person["companies"]:
        scores = [
            state.scores[key]["score"]
            for member in state.company_people.get(company, {})
            if (key := f"{kind}:{member}") in state.scores
        ]
        if scores:
            means.append({"id": company, "score": int(sum(scores) / len(scores) + 0.5)})
    return means


def _survey_response(state: State, kind: str, survey_id: str, score: Record) -> None:
    survey = state.surveys.get(survey_id)
    if survey is None:
        raise ApiError(404, "Survey not found")
    if survey["type"] != kind:
        raise ApiError(400, f"surveyId: survey {survey_id} is a {survey['type']} survey")
    person = state.people[score["people"]]
    state.survey_responses[score["id"]] = {
        "id": score["id"],
        "survey": survey_id,
        "score": score["score"],
        "responseDate": score["submittedAt"],
        "comment": score["comment"],
        "email": person["email"],
        "name": person["name"],
        "company": person["companies"][0] if person["companies"] else None,
        "people": person["id"],
        "extraQuestions": [],
        "tags": [],
        "created_at": score["created_at"],
        "updated_at": score["updated_at"],
    }


def assign(state: State, kind: str, request: Request, body: Record) -> Record:
    params = request.query_params
    person_id = entities.person_id(
        state,
        internal=request.path_params.get("entity"),
        user_id=params.get("user_id"),
        email=params.get("email"),
    )
    if person_id is None:
        raise ApiError(400, "entity, email or user_id is required")
    low, high = RANGES[kind]
    score = rules.required(rules.int_range_field(body, "score", low, high), "score")
    survey_id = params.get("surveyId") or rules.identifier(body, "surveyId")
    stamp = state.stamp()
    record: Record = {
        "id": state.ids.next(),
        "type": kind,
        "people": person_id,
        "score": score,
        "comment": rules.string_field(body, "comment", None),
        "submittedAt": rules.date_field(body, "submittedAt") or stamp,
        "surveyId": survey_id,
        "created_at": stamp,
        "updated_at": stamp,
    }
    if survey_id is not None:
        _survey_response(state, kind, survey_id, record)
        webhooks.emit(request, "survey_response.received", state.survey_responses[record["id"]])
    key = f"{kind}:{person_id}"
    current = state.scores.get(key)
    kept = current is None or current["submittedAt"] <= record["submittedAt"]
    if kept:
        state.scores[key] = record
    person = state.people[person_id]
    return {**state.scores[key], "kept": kept, "companies": _company_means(state, kind, person)}


def _endpoint(kind: str) -> list[Route]:
    async def post(request: Request) -> Response:
        body = await json_object(request)
        return json_response(assign(state_of(request), kind, request, body))

    path = f"/{kind}_score"
    return [
        Route(path, post, methods=["POST"]),
        Route(f"{path}/{{entity}}", post, methods=["POST"]),
    ]


ROUTES = [*_endpoint("nps"), *_endpoint("csat")]
