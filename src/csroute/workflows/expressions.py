"""The one expression syntax of workflows: ``{{ path | filter(arg) | filter }}`` inside strings.

A path starts at ``trigger`` (the record that started the run), ``steps`` (earlier steps:
``steps.<id>.output...`` and ``steps.<id>.input...``), ``workflow`` (``workflow.name``) or
``run`` (``run.id``), and goes down with dots; a number indexes a list (``people.0``). Filters
are a fixed few (``FILTERS``); there is no arithmetic, no call of anything else, no code.

A string that is exactly one expression keeps the value's type (a list stays a list, a number a
number); an expression inside other text is turned into text. Everything is parsed when the
configuration is checked, so a malformed expression is reported before any run starts.
See docs/workflows.md, "Expressions".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

ROOTS: Final = ("trigger", "steps", "workflow", "run")

_OPEN: Final = "{{"
_CLOSE: Final = "}}"
_SEGMENT: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*|[0-9]+")
_NAME: Final = re.compile(r"[a-z_]+")
_NUMBER: Final = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_STRING: Final = re.compile(r"'([^'\\]*)'|\"([^\"\\]*)\"")


class ExpressionError(ValueError):
    """A malformed expression, or one whose value cannot be computed; the text says which and
    what to write instead. ``where`` is where it sits in a step's input (``body.name``), when
    known."""

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(message)
        self.where = where


class _Missing:
    """A path that leads nowhere (kept apart from None, which is a value)."""

    def __repr__(self) -> str:
        return "missing"


MISSING: Final = _Missing()


@dataclass(frozen=True, slots=True)
class Filter:
    name: str
    arg: Any = MISSING


@dataclass(frozen=True, slots=True)
class Expression:
    text: str
    path: tuple[str, ...]
    filters: tuple[Filter, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True, slots=True)
class Template:
    """A string with expressions: ``parts`` alternate text and expressions."""

    parts: tuple[str | Expression, ...]

    @property
    def expressions(self) -> list[Expression]:
        return [p for p in self.parts if isinstance(p, Expression)]


def parse(text: str) -> Template:
    """Every ``{{ ... }}`` of ``text``, parsed; raises ExpressionError naming the first problem."""
    parts: list[str | Expression] = []
    at = 0
    while (start := text.find(_OPEN, at)) >= 0:
        end = text.find(_CLOSE, start + 2)
        if end < 0:
            raise ExpressionError(f"{_OPEN} at character {start + 1} is never closed by {_CLOSE}")
        if start > at:
            parts.append(text[at:start])
        parts.append(parse_expression(text[start + 2 : end]))
        at = end + 2
    if text.find(_CLOSE, at) >= 0:
        raise ExpressionError(f"{_CLOSE} at character {text.find(_CLOSE, at) + 1} has no {_OPEN}")
    if at < len(text):
        parts.append(text[at:])
    return Template(tuple(parts))


def parse_expression(inner: str) -> Expression:
    """One expression, without its braces."""
    pieces = _split_pipes(inner)
    path_text = pieces[0].strip()
    shown = inner.strip()
    if not path_text:
        raise ExpressionError(f"{{{{ {shown} }}}}: a path is missing, e.g. trigger.id")
    path = tuple(path_text.split("."))
    for segment in path:
        if not _SEGMENT.fullmatch(segment):
            raise ExpressionError(
                f"{{{{ {shown} }}}}: {segment!r} is not a path segment (letters, digits, _ and -,"
                " joined by dots)"
            )
    if path[0] not in ROOTS:
        raise ExpressionError(
            f"{{{{ {shown} }}}}: a path starts with {', '.join(ROOTS)}, not {path[0]!r}"
        )
    filters = tuple(_filter(piece.strip(), shown) for piece in pieces[1:])
    return Expression(shown, path, filters)


def _split_pipes(inner: str) -> list[str]:
    """Split on ``|`` outside quotes."""
    pieces: list[str] = []
    current: list[str] = []
    quote = ""
    for char in inner:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "|":
            pieces.append("".join(current))
            current = []
            continue
        current.append(char)
    if quote:
        raise ExpressionError(f"{{{{ {inner.strip()} }}}}: a quoted text is never closed")
    pieces.append("".join(current))
    return pieces


def _filter(piece: str, shown: str) -> Filter:
    name, paren, rest = piece.partition("(")
    name = name.strip()
    if not _NAME.fullmatch(name) or name not in FILTERS:
        raise ExpressionError(
            f"{{{{ {shown} }}}}: unknown filter {name or piece!r} (filters: {', '.join(FILTERS)})"
        )
    if not paren:
        if name in _NEEDS_ARG:
            raise ExpressionError(f"{{{{ {shown} }}}}: the filter {name} needs an argument")
        return Filter(name)
    if not rest.rstrip().endswith(")"):
        raise ExpressionError(f"{{{{ {shown} }}}}: the filter {name}( is never closed by )")
    return Filter(name, _literal(rest.rstrip()[:-1].strip(), shown))


def _literal(text: str, shown: str) -> Any:
    if match := _STRING.fullmatch(text):
        return match[1] if match[1] is not None else match[2]
    if _NUMBER.fullmatch(text):
        return float(text) if "." in text else int(text)
    literals = {"true": True, "false": False, "null": None}
    if text in literals:
        return literals[text]
    raise ExpressionError(
        f"{{{{ {shown} }}}}: a filter argument is a quoted text, a number, true, false or null"
        f" (got {text!r})"
    )


# -- evaluation ----------------------------------------------------------------------------


class Unknown(str):
    """A value known only when the run happens (a dry run's step outputs): every path under it
    is another one, and it shows as ``<the path>``."""

    def under(self, segment: str) -> Unknown:
        return Unknown(f"{self[:-1]}.{segment}>")


def lookup(context: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = context
    for segment in path:
        if isinstance(value, Unknown):
            value = value.under(segment)
        elif isinstance(value, Mapping) and segment in value:
            value = value[segment]
        elif isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return MISSING
    return value


def evaluate(expression: Expression, context: Mapping[str, Any]) -> Any:
    value = lookup(context, expression.path)
    if isinstance(value, Unknown):  # a dry run: no filter can tell what it would give
        return str(value)
    for f in expression.filters:
        if value is MISSING and f.name != "default":
            raise ExpressionError(_missing(expression))
        value = FILTERS[f.name](value, f.arg, expression)
    if value is MISSING:
        raise ExpressionError(_missing(expression))
    return value


def _missing(expression: Expression) -> str:
    return (
        f"{{{{ {expression.text} }}}}: {expression.dotted} is missing"
        " (add | default('...') if it may be)"
    )


def render(template: Template, context: Mapping[str, Any]) -> Any:
    """The template's value: the value itself for a lone expression, else text."""
    if len(template.parts) == 1 and isinstance(template.parts[0], Expression):
        return evaluate(template.parts[0], context)
    return "".join(
        part if isinstance(part, str) else _text(evaluate(part, context)) for part in template.parts
    )


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def templates(value: Any) -> Iterator[tuple[str, Template]]:
    """Every string with an expression in a step's input, with where it sits (``a.b[0]``)."""
    yield from _walk(value, "")


def _walk(value: Any, where: str) -> Iterator[tuple[str, Template]]:
    if isinstance(value, str):
        try:
            template = parse(value)
        except ExpressionError as e:
            raise ExpressionError(str(e), where) from None
        if template.expressions:
            yield where, template
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{where}[{i}]")


def render_all(value: Any, context: Mapping[str, Any]) -> Any:
    """A step's input with every string's expressions computed."""
    if isinstance(value, str):
        template = parse(value)
        return render(template, context) if template.expressions else value
    if isinstance(value, Mapping):
        return {key: render_all(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render_all(item, context) for item in value]
    return value


# -- filters -------------------------------------------------------------------------------


def _default(value: Any, arg: Any, _: Expression) -> Any:
    return (None if arg is MISSING else arg) if value in (MISSING, None, "") else value


def _case(change: Callable[[str], str]) -> Callable[[Any, Any, Expression], Any]:
    def apply(value: Any, _arg: Any, expression: Expression) -> Any:
        if not isinstance(value, str):
            raise ExpressionError(f"{{{{ {expression.text} }}}}: {_kind(value)} is not text")
        return change(value)

    return apply


def _join(value: Any, arg: Any, expression: Expression) -> str:
    if not isinstance(value, list):
        raise ExpressionError(f"{{{{ {expression.text} }}}}: join needs a list, not {_kind(value)}")
    separator = ", " if arg is MISSING else str(arg)
    return separator.join(_text(item) for item in value)


def moment(value: Any, expression: Expression) -> datetime:
    """An ISO-8601 time or seconds since the epoch, as an aware datetime."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        parsed = datetime.fromisoformat(str(value))
    except (ValueError, OverflowError, OSError):
        raise ExpressionError(
            f"{{{{ {expression.text} }}}}: {str(value)[:60]!r} is not an ISO-8601 time"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date(value: Any, arg: Any, expression: Expression) -> str:
    form = "%Y-%m-%d" if arg is MISSING else str(arg)
    return moment(value, expression).strftime(form)


def _plus_days(value: Any, arg: Any, expression: Expression) -> str:
    if not isinstance(arg, int | float) or isinstance(arg, bool):
        raise ExpressionError(f"{{{{ {expression.text} }}}}: plus_days needs a number of days")
    shifted = moment(value, expression) + timedelta(days=arg)
    return shifted.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json(value: Any, _arg: Any, _: Expression) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


FILTERS: Final[dict[str, Callable[[Any, Any, Expression], Any]]] = {
    "default": _default,
    "lower": _case(str.lower),
    "upper": _case(str.upper),
    "join": _join,
    "date": _date,
    "plus_days": _plus_days,
    "json": _json,
}
"""``default(x)``: x when the value is missing, null or empty; ``lower``/``upper``: text case;
``join(sep)``: a list as text (default ", "); ``date(format)``: a time as text, strftime format
(default ``%Y-%m-%d``); ``plus_days(n)``: a time n days later, ISO-8601; ``json``: JSON text."""
_NEEDS_ARG: Final = frozenset({"plus_days"})
