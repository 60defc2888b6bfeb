"""Checking a parsed YAML/JSON document against typed structs, reporting every problem at once.

msgspec stops at the first mismatch and words it for programmers (``Object contains unknown
field `batchsize```). A person fixing a configuration file wants the whole list in one run,
each problem with its key path, in plain words, and a suggestion for a misspelt key. This walks
the document beside the struct types and collects exactly that; once it finds nothing,
``msgspec.convert`` (non-strict, so ``"8080"`` from an environment variable is a port) cannot
fail.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Collection
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec


class Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every configuration section: an unknown key is an error (a typo must not pass
    silently)."""


def problems_of(value: Any, typ: Any, path: str = "", hidden: Collection[str] = ()) -> list[str]:
    """Every way ``value`` fails to fit ``typ``, as ``key.path: plain words``.

    Values at ``hidden`` paths (filled from the environment, so possibly secret) are described
    by their kind, never shown.
    """
    found: list[str] = []
    _walk(value, typ, path, found, frozenset(hidden))
    return found


def convert(value: Any, typ: type[Any]) -> Any:
    """``value`` as ``typ``, after ``problems_of`` found nothing."""
    return msgspec.convert(value, typ, strict=False)


def _walk(value: Any, typ: Any, path: str, found: list[str], hidden: frozenset[str]) -> None:
    origin = get_origin(typ)
    if typ is Any:
        return
    if isinstance(typ, type) and issubclass(typ, msgspec.Struct):
        _walk_struct(value, typ, path, found, hidden)
    elif origin in (Union, types.UnionType):
        options = [a for a in get_args(typ) if a is not type(None)]
        if value is None and len(options) < len(get_args(typ)):
            return
        if len(options) == 1:
            _walk(value, options[0], path, found, hidden)
        else:
            _leaf(value, typ, path, found, hidden)
    elif origin is list:
        if not isinstance(value, list):
            found.append(f"{_at(path)}: must be a list{_got(value, path, hidden)}")
            return
        for i, item in enumerate(value):
            _walk(item, get_args(typ)[0], f"{path}[{i}]", found, hidden)
    elif origin is dict:
        if not isinstance(value, dict):
            found.append(f"{_at(path)}: must be a mapping{_got(value, path, hidden)}")
            return
        for key, item in value.items():
            _walk(item, get_args(typ)[1], _join(path, str(key)), found, hidden)
    else:
        _leaf(value, typ, path, found, hidden)


def _walk_struct(
    value: Any, typ: type[msgspec.Struct], path: str, found: list[str], hidden: frozenset[str]
) -> None:
    if not isinstance(value, dict):
        found.append(f"{_at(path)}: must be a mapping{_got(value, path, hidden)}")
        return
    fields = {f.encode_name: f for f in msgspec.structs.fields(typ)}
    for key, item in value.items():
        field = fields.get(key)
        if field is None:
            found.append(f"{_join(path, str(key))}: unknown key{suggestion(str(key), fields)}")
        else:
            _walk(item, field.type, _join(path, str(key)), found, hidden)
    for name, field in fields.items():
        if field.required and name not in value:
            found.append(f"{_join(path, name)}: is required but missing")


def _leaf(value: Any, typ: Any, path: str, found: list[str], hidden: frozenset[str]) -> None:
    try:
        msgspec.convert(value, typ, strict=False)
    except msgspec.ValidationError:
        found.append(f"{_at(path)}: must be {_describe(typ)}{_got(value, path, hidden)}")


def _describe(typ: Any) -> str:
    origin = get_origin(typ)
    if origin is Annotated:
        base, *extras = get_args(typ)
        rules = [r for meta in extras if isinstance(meta, msgspec.Meta) for r in _rules(meta)]
        return " ".join([_describe(base), *rules])
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in get_args(typ))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in get_args(typ) if a is not type(None))
    return _NAMES.get(typ, getattr(typ, "__name__", str(typ)))


def _rules(meta: msgspec.Meta) -> list[str]:
    rules = []
    if meta.min_length:
        shortest = meta.min_length
        rules.append("that is not empty" if shortest == 1 else f"of length >= {shortest}")
    for word, bound in (("at least", meta.ge), ("at most", meta.le)):
        if bound is not None:
            rules.append(f"{word} {bound}")
    for word, bound in (("above", meta.gt), ("below", meta.lt)):
        if bound is not None:
            rules.append(f"{word} {bound}")
    return rules


_NAMES: dict[Any, str] = {
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    str: "text",
    type(None): "empty",
}


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    if value == "":
        return "empty text"
    return _NAMES.get(type(value), type(value).__name__)


SECRET_WORDS = ("key", "token", "secret", "password", "auth", "url", "header")
"""A value under a key naming one of these may be a credential: shown by its kind only."""


def _got(value: Any, path: str, hidden: frozenset[str]) -> str:
    last = path.rsplit(".", 1)[-1].lower()
    if path in hidden or isinstance(value, dict | list) or any(w in last for w in SECRET_WORDS):
        return f" (got {_kind(value)})"
    shown = repr(value)
    return f" (got {shown if len(shown) <= 40 else shown[:37] + '...'})"


def suggestion(key: str, fields: Collection[str]) -> str:
    """`` (did you mean X?)`` for the closest of ``fields``, else a short list of them."""
    close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]}?)"
    return f" (known: {', '.join(fields)})" if len(fields) <= 12 else ""


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _at(path: str) -> str:
    return path or "the document"
