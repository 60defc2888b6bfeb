"""Files (docs/custify-api.md, "Files"): multipart upload, unlink, portal visibility, per-entity
listing."""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from csroute.custify.client import validate
from csroute.custify.client.base import Group
from csroute.custify.client.core import Call, Upload, query
from csroute.custify.client.envelopes import Record

MAX_PER_PAGE = 50


class Files(Group):
    async def upload(
        self,
        file: str | Path | bytes,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        company_id: str | None = None,
        people_id: str | None = None,
    ) -> Record:
        """``POST /file`` (``multipart/form-data``), attached to a company and/or a person by
        internal id. ``file`` is a path or the content itself (then ``filename`` is needed)."""
        validate.any_of({"companyId": company_id, "peopleId": people_id}, "companyId", "peopleId")
        if isinstance(file, bytes):
            if not filename:
                raise validate.invalid("filename", "is required when file is bytes")
            content = file
        else:
            path = Path(file)
            try:
                content = path.read_bytes()
            except OSError as e:
                raise validate.invalid("file", f"cannot read {path} ({e.strerror})") from None
            filename = filename or path.name
        guessed = mimetypes.guess_type(filename)[0]
        fields = query(companyId=company_id, peopleId=people_id)
        upload = Upload(
            filename, content, content_type or guessed or "application/octet-stream", fields
        )
        return await self._record(Call("POST", "/file", upload=upload))

    async def unlink(
        self, file_id: str, *, company_id: str | None = None, people_id: str | None = None
    ) -> Record:
        """``POST /file/unlink``: detach from the company/person given (else from everything)."""
        body = {"fileId": file_id, "companyId": company_id, "peopleId": people_id}
        body = {key: value for key, value in body.items() if value is not None}
        validate.required(body, "fileId")
        return await self._record(Call("POST", "/file/unlink", body=body))

    async def show_in_portal(self, id: str, show: bool = True) -> Record:
        """``PUT /file/{id}/showInPortal``: make the file visible (or not) in the portal."""
        return await self._record(
            Call("PUT", f"/file/{id}/showInPortal", body={"showInPortal": show})
        )

    def list(
        self,
        *,
        company_id: str | None = None,
        people_id: str | None = None,
        per_page: int | None = None,
        **params: Any,
    ) -> AsyncIterator[Record]:
        """The files of one company or one person (Custify lists files per entity only)."""
        name, value = validate.exactly_one(companyId=company_id, peopleId=people_id)
        return self._list("/file", "files", MAX_PER_PAGE, per_page, {name: value, **params})
