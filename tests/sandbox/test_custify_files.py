"""Custify sandbox: files (multipart upload, 409 conflicts, per-entity listing, unlink, portal
visibility), over real HTTP."""

from __future__ import annotations

import os
from typing import Any

import httpx
from custify_helpers import company, error, ok, person, walk


def upload(
    api: httpx.Client, name: str, content: bytes = b"%PDF-1.4", status: int = 200, **owners: str
) -> Any:
    files = {"file": (name, content, "application/pdf")}
    return ok(api.post("/file", files=files, data=owners), status)


def test_upload_returns_the_file_listing(custify: httpx.Client) -> None:
    acme, ann = company(custify, "acme"), person(custify, "ann")
    content = os.urandom(4096) + b"\r\n--boundary-like\r\n"
    file = upload(custify, "Report.PDF", content, companyId=acme["id"], peopleId=ann["id"])
    assert (file["companies"], file["peoples"]) == ([acme["id"]], [ann["id"]])
    assert (file["name"], file["extension"], file["mimeType"], file["size"]) == (
        "Report.PDF",
        "pdf",
        "application/pdf",
        len(content),
    )
    assert file["showInPortal"] is False and len(file["account"]) == 24 and file["created_at"]
    assert ok(custify.get("/file", params={"companyId": acme["id"]})) == {
        "files": [file],
        "total": 1,
    }
    assert ok(custify.get("/file", params={"peopleId": ann["id"]}))["total"] == 1


def test_upload_errors(custify: httpx.Client) -> None:
    acme = company(custify, "acme")
    upload(custify, "a.pdf", companyId=acme["id"])
    conflict = upload(custify, "a.pdf", status=409, companyId=acme["id"])
    assert "Conflict" in conflict["message"]
    assert "companyId" in error(custify.post("/file", files={"file": ("b.pdf", b"x")}), 400)
    no_file = custify.post("/file", files={"note": ("n.txt", b"x")}, data={"companyId": acme["id"]})
    assert "file" in error(no_file, 400)
    as_json = custify.post("/file", json={"companyId": acme["id"]})
    assert "multipart/form-data" in error(as_json, 400)
    assert error(
        custify.post("/file", files={"file": ("c.pdf", b"x")}, data={"peopleId": "d" * 24}), 404
    ) == ("People not found")
    assert ok(custify.get("/file", params={"companyId": acme["id"]}))["total"] == 1


def test_listing_pages_newest_first_and_searches(custify: httpx.Client) -> None:
    acme, other = company(custify, "acme"), company(custify, "other")
    made = [upload(custify, f"doc-{n:02d}.pdf", companyId=acme["id"]) for n in range(12)]
    upload(custify, "elsewhere.pdf", companyId=other["id"])
    listed = walk(custify, "/file", "files", 5, companyId=acme["id"])
    assert [f["id"] for f in listed] == [f["id"] for f in reversed(made)]
    found = ok(custify.get("/file", params={"companyId": acme["id"], "searchKey": "DOC-1"}))
    assert found["total"] == 2
    assert "companyId" in error(custify.get("/file"), 400)
    assert ok(custify.get("/file", params={"companyId": "e" * 24})) == {"files": [], "total": 0}


def test_unlink_and_portal_visibility(custify: httpx.Client) -> None:
    acme, ann = company(custify, "acme"), person(custify, "ann")
    file = upload(custify, "a.pdf", companyId=acme["id"], peopleId=ann["id"])
    shown = ok(custify.put(f"/file/{file['id']}/showInPortal", json={"showInPortal": True}))
    assert shown["showInPortal"] is True
    assert "showInPortal" in error(custify.put(f"/file/{file['id']}/showInPortal", json={}), 400)
    assert error(
        custify.put(f"/file/{'a' * 24}/showInPortal", json={"showInPortal": True}), 404
    ) == ("File not found")
    unlinked = ok(
        custify.post("/file/unlink", json={"fileId": file["id"], "companyId": acme["id"]})
    )
    assert "message" in unlinked
    assert ok(custify.get("/file", params={"companyId": acme["id"]}))["total"] == 0
    assert ok(custify.get("/file", params={"peopleId": ann["id"]}))["total"] == 1
    again = custify.post("/file/unlink", json={"fileId": file["id"], "companyId": acme["id"]})
    assert again.status_code == 404
    ok(custify.post("/file/unlink", json={"fileId": file["id"]}))
    assert ok(custify.get("/file", params={"peopleId": ann["id"]}))["total"] == 0
    assert "fileId" in error(custify.post("/file/unlink", json={}), 400)
    assert error(custify.post("/file/unlink", json={"fileId": "b" * 24}), 404) == "File not found"
    upload(custify, "a.pdf", companyId=acme["id"])  # no conflict once unlinked
