"""Pages as escaped strings: every value goes through ``h`` (or ``pretty``) and nowhere else,
so a hostile event, user id or response cannot inject markup."""

from __future__ import annotations

import html
from typing import Any

import msgspec

NAV = (
    ("overview", "/console/"),
    ("live", "/console/live"),
    ("dead letters", "/console/dead-letters"),
    ("transform", "/console/transform"),
)


CURRENT = ' aria-current="page"'


def h(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def pretty(value: Any) -> str:
    """Escaped, indented JSON for a ``<pre>``."""
    return h(msgspec.json.format(msgspec.json.encode(value), indent=2).decode())


def page(title: str, body: str, csrf: str = "", current: str = "") -> str:
    """The layout; ``csrf`` empty means logged out (no navigation)."""
    nav = ""
    if csrf:
        links = "".join(
            f'<li><a href="{href}"{CURRENT if name == current else ""}>{h(name)}</a></li>'
            for name, href in NAV
        )
        nav = (
            f'<nav aria-label="console"><ul>{links}</ul>'
            f'<form method="post" action="/console/logout">{csrf_field(csrf)}'
            '<button type="submit">log out</button></form></nav>'
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{h(title)} · csroute</title>"
        '<link rel="stylesheet" href="/console/static/console.css">'
        '<script src="/console/static/console.js" defer></script></head>'
        f'<body><header><p class="brand">csroute console</p>{nav}</header>'
        f"<main><h1>{h(title)}</h1>{body}</main></body></html>"
    )


def csrf_field(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{h(csrf)}">'


def text_input(name: str, label: str, value: str = "", kind: str = "text") -> str:
    return (
        f'<p><label for="f-{h(name)}">{h(label)}</label> '
        f'<input id="f-{h(name)}" name="{h(name)}" type="{h(kind)}" value="{h(value)}"></p>'
    )


def table(caption: str, headers: list[str], rows: list[list[str]]) -> str:
    """A table of already escaped cells."""
    head = "".join(f'<th scope="col">{h(x)}</th>' for x in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f"<table><caption>{h(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )
