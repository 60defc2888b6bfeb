"""Custify sandbox: tags (CRUD, the list envelope, get-by-id without 404, add/remove on entities,
the legacy people tag call), over real HTTP."""

from __future__ import annotations

import httpx
from custify_helpers import company, error, ok, person, walk


def tag(api: httpx.Client, name: str, category: str = "people") -> dict[str, str]:
    created: dict[str, str] = ok(api.post("/tag", json={"name": name, "category": category}))
    return created


def test_create_read_update_and_delete(custify: httpx.Client) -> None:
    created = ok(
        custify.post("/tag", json={"name": "VIP", "category": "company", "description": "Top"})
    )
    assert {"id", "name", "description", "category", "color", "color_text"} <= set(created)
    assert (created["name"], created["category"], created["description"]) == (
        "VIP",
        "company",
        "Top",
    )
    assert ok(custify.get(f"/tag/{created['id']}")) == {"tags": [created], "total": 1}
    updated = ok(custify.post(f"/tag/{created['id']}", json={"name": "Key account"}))
    assert (updated["name"], updated["category"]) == ("Key account", "company")
    assert updated["updated_at"] > created["updated_at"]
    ok(custify.delete(f"/tag/{created['id']}"))
    assert ok(custify.get(f"/tag/{created['id']}")) == {"tags": [], "total": 0}
    assert "Tag not found" in error(custify.delete(f"/tag/{created['id']}"), 404)
    assert "Tag not found" in error(custify.post(f"/tag/{created['id']}", json={}), 404)


def test_unknown_id_is_an_empty_list_and_a_malformed_one_503(custify: httpx.Client) -> None:
    assert ok(custify.get(f"/tag/{'a' * 24}")) == {"tags": [], "total": 0}
    assert custify.get("/tag/not-an-id").status_code == 503


def test_required_fields_are_named(custify: httpx.Client) -> None:
    assert "name" in error(custify.post("/tag", json={"category": "people"}), 400)
    assert "category" in error(custify.post("/tag", json={"name": "x"}), 400)
    assert "category" in error(custify.post("/tag", json={"name": "x", "category": "hats"}), 400)
    created = tag(custify, "x")
    assert ok(custify.post("/tag/", json={"name": "y", "category": "note"}))["category"] == "note"
    assert "name" in error(custify.post(f"/tag/{created['id']}", json={"name": None}), 400)
    assert ok(custify.get("/tag"))["total"] == 2


def test_listing_pages_sort_by_position_and_filter_by_category(custify: httpx.Client) -> None:
    made = [tag(custify, f"t{n:02d}", "note" if n % 3 == 0 else "people") for n in range(25)]
    everything = walk(custify, "/tag", "tags", 7)
    assert [t["id"] for t in everything] == [t["id"] for t in made]
    notes = ok(custify.get("/tag", params={"category": "note"}))
    assert notes["total"] == 9 and {t["category"] for t in notes["tags"]} == {"note"}
    by_name = ok(custify.get("/tag", params={"sort": "name", "order": "desc", "itemsPerPage": 2}))
    assert [t["name"] for t in by_name["tags"]] == ["t24", "t23"]
    assert custify.get("/tag", params={"order": "sideways"}).status_code == 400
    assert custify.get("/tag", params={"category": "hats"}).status_code == 400
    assert ok(custify.get("/tag/"))["total"] == 25  # the spec's /tag/{id} with no id


def test_add_and_remove_on_entities_of_the_tag_category(custify: httpx.Client) -> None:
    acme, beta = company(custify, "acme"), company(custify, "beta")
    vip = tag(custify, "VIP", "company")
    body = {"ids": [acme["id"], beta["id"]], "type": "add", "category": "company", "tag": vip["id"]}
    assert ok(custify.patch("/tag/entity", json=body))["modified"] == 2
    assert ok(custify.get(f"/company/{acme['id']}"))["companies"][0]["tags"] == [vip["id"]]
    assert ok(custify.patch("/tag/entity", json=body))["modified"] == 0
    removed = ok(custify.patch("/tag/entity", json={**body, "type": "remove", "ids": [beta["id"]]}))
    assert removed["modified"] == 1
    assert ok(custify.get(f"/company/{beta['id']}"))["companies"][0]["tags"] == []
    people_body = {**body, "category": "people"}
    assert "not a people tag" in error(custify.patch("/tag/entity", json=people_body), 400)
    unknown = {**body, "ids": [acme["id"], "f" * 24]}
    assert error(custify.patch("/tag/entity", json=unknown), 404) == "Company not found"
    for field in ("ids", "type", "category", "tag"):
        incomplete = {key: value for key, value in body.items() if key != field}
        assert field in error(custify.patch("/tag/entity", json=incomplete), 400)
    assert error(custify.patch("/tag/entity", json={**body, "tag": "b" * 24}), 404) == (
        "Tag not found"
    )


def test_legacy_people_tag_and_deleting_a_tag_removes_it(custify: httpx.Client) -> None:
    ann = person(custify, "ann")
    vip = tag(custify, "VIP")
    body = {"ids": [ann["id"]], "type": "add", "tag": vip["id"]}
    ok(custify.post("/people/tag", json=body))
    tagged = ok(custify.get(f"/people/{ann['id']}"))
    assert tagged["tags"] == [vip["id"]] and tagged["updated_at"] > ann["updated_at"]
    filtered = ok(
        custify.get(
            "/people/all",
            params={
                "filters": '[{"fieldName":"tags","fieldType":"Tag","filterType":"is_in",'
                f'"filterValue":["{vip["id"]}"]}}]'
            },
        )
    )
    assert filtered[0]["total"] == 1
    ok(custify.delete(f"/tag/{vip['id']}"))
    assert ok(custify.get(f"/people/{ann['id']}"))["tags"] == []
