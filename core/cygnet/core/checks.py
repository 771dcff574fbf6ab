"""Checking what a request or a command line hands a core: one place for types and sizes, so
every face answers bad input with BadInput naming the field, never with a crash or a guess
("no" is not true, {"a": 1} is not a list of names).
"""

from collections.abc import Iterable, Sequence

from .errors import BadInput

MAX_TEXT = 4096  # characters of a path, URL or name: PATH_MAX on Linux


def text(
    value: object, field: str, *, required: bool = True, max_length: int = MAX_TEXT, allow_empty: bool = False
) -> str | None:
    """A string without control characters or unpaired surrogates, of bounded length."""
    if value is None or (value == "" and not allow_empty):
        if required:
            raise BadInput(f"{field} is required")
        return None if value is None else ""
    if not isinstance(value, str):
        raise BadInput(f"{field} must be a string, not {_kind(value)}")
    if len(value) > max_length:
        raise BadInput(f"{field} is too long ({len(value)} characters; at most {max_length})")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{field} is not valid text (it holds an unpaired surrogate)") from None
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise BadInput(f"{field} must not contain control characters")
    return value


def flag(value: object, field: str, default: bool = False) -> bool:
    """A JSON boolean (or absent): "no", 0 or "false" are refused, not read as true."""
    if value is None:
        return default
    if not isinstance(value, bool):
        raise BadInput(f"{field} must be true or false, not {_kind(value)}")
    return value


def number(
    value: object,
    field: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    default: float | None = None,
) -> float | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadInput(f"{field} must be a number, not {_kind(value)}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise BadInput(f"{field} must be between {minimum} and {maximum}, not {value}")
    return value


def names(value: object, field: str, *, max_items: int = 1000) -> list[str]:
    """A list of non-empty strings (user names and the like); None or [] for none."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise BadInput(f"{field} must be a list of names, not {_kind(value)}")
    if len(value) > max_items:
        raise BadInput(f"{field} has more than {max_items} entries")
    return [(text(v, f"each of {field}", max_length=256) or "").strip() or _empty(field) for v in value]


def body(value: object, allowed: Sequence[str], required: Sequence[str] = (), what: str = "the body") -> dict:
    """A JSON object with only `allowed` keys and all `required` ones."""
    if not isinstance(value, dict):
        raise BadInput(f"{what} must be a JSON object with {_listing(allowed)}")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise BadInput(f"unknown field(s) in {what}: {', '.join(map(repr, unknown))} (allowed: {_listing(allowed)})")
    missing = [k for k in required if value.get(k) in (None, "")]
    if missing:
        raise BadInput(f"{what} needs {_listing(missing)}")
    return value


def _empty(field: str) -> str:
    raise BadInput(f"{field} must not hold empty names")


def _listing(keys: Iterable[str]) -> str:
    return ", ".join(f'"{k}"' for k in keys)


def _kind(value: object) -> str:
    return {
        dict: "an object",
        list: "a list",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
    }.get(type(value), type(value).__name__)
