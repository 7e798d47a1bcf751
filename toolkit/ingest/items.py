"""An API item as JSON: a page body decoded, canonical JSON and event ids, validation.

Pure functions, no Arrow. A body that is not strict UTF-8 JSON gets a lenient
second reading (any depth, invalid bytes and non-finite numbers kept so that only
their items are rejected); `raw_text` writes a rejected item back as JSON text.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from json.decoder import scanstring  # type: ignore[attr-defined]  # public since 2.6, untyped
from typing import Any

import orjson

ENVELOPE_IDS = ("sessionId", "sessionOrgId", "userId")
ENVELOPE_FIELDS = frozenset(("createdAtMs", *ENVELOPE_IDS, "data"))
MAX_TIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
INT_MIN, INT_MAX = -(2**63), 2**64 - 1  # what orjson reads and writes as integers
# orjson writes an integral float as "N.0", or with a positive exponent from 1e16
# on ("1e+16", "1.5e+20"); other floats stay as they are. Texts that look alike only
# cost the walk that rewrites integral floats as integers.
_POINT_ZERO = re.compile(rb"[0-9]\.0(?![0-9])")
_ID = re.compile(r"[A-Za-z0-9_-]{0,128}")
MAX_NESTING = 254  # the most nested arrays and objects orjson writes (and so canonical JSON)


class NonFiniteNumber:
    """A NaN or Infinity token met in the lenient reading; orjson refuses to encode it."""

    def __init__(self, token: str):
        self.token = token

    def __repr__(self) -> str:
        return self.token


class RejectedItemError(ValueError):
    """An item that cannot be stored as an event; the message is the reason."""


def canonical_json(item: Any) -> bytes:
    """The contract's canonical form: sorted keys, compact, UTF-8, integral numbers as integers.

    Raises:
        RejectedItemError: the item holds a value JSON cannot carry exactly.
    """
    try:
        return orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError) as exc:
        why = str(exc)
        if "Recursion limit" in why:
            why = f"nested more than {MAX_NESTING} levels deep"
        elif "NonFiniteNumber" in why:
            why = "holds a number that is not finite (NaN, Infinity, or beyond a double)"
        raise RejectedItemError(f"cannot be encoded as canonical JSON: {why}") from None


def event_id(item: Any) -> str:
    """SHA-256 hex of the item's canonical JSON: the same event always gets the same id."""
    return hashlib.sha256(canonical_json(normalize_numbers(item))).hexdigest()


def normalize_numbers(value: Any) -> Any:
    """Return the value with integral floats as ints; reject non-finite or 64-bit overflow."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RejectedItemError("holds a number that is not finite")
        if value.is_integer():
            if not INT_MIN <= value <= INT_MAX:
                raise RejectedItemError("holds a number outside the 64-bit integer range")
            return int(value)
        return value
    if isinstance(value, int) and not isinstance(value, bool) and not INT_MIN <= value <= INT_MAX:
        raise RejectedItemError("holds a number outside the 64-bit integer range")
    if isinstance(value, dict):
        return {k: normalize_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_numbers(v) for v in value]
    return value


def check_item(item: Any) -> None:
    """Raise RejectedItemError with the reason if the item is not a storable event."""
    if not isinstance(item, dict):
        raise RejectedItemError(f"item is not a JSON object but {_json_kind(item)}")
    for name in ("createdAtMs", *ENVELOPE_IDS, "data"):
        if name not in item:
            raise RejectedItemError(f"missing envelope field {name}")
    at = item["createdAtMs"]
    if isinstance(at, bool) or not isinstance(at, int | float):
        raise RejectedItemError(f"createdAtMs is {_json_kind(at)}, not a number")
    if not (math.isfinite(at) and 0 <= at <= MAX_TIME_MS):
        raise RejectedItemError("createdAtMs is outside the range of valid times")
    for name in ENVELOPE_IDS:
        _check_envelope_id(name, item[name])
    data = item["data"]
    if not isinstance(data, dict):
        raise RejectedItemError(f"data is {_json_kind(data)}, not an object")
    if not isinstance(data.get("type"), str) or not data["type"]:
        raise RejectedItemError("data has no type (a non-empty string)")


def _check_envelope_id(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise RejectedItemError(f"{name} is {_json_kind(value)}, not a string")
    if not _ID.fullmatch(value) or (name != "userId" and not value):
        shown = value[:40] + ("..." if len(value) > 40 else "")
        raise RejectedItemError(
            f"{name} {shown!r} is not an id of 1-128 letters, digits, '_' or '-'"
        )


def _json_kind(value: Any) -> str:
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return kinds.get(type(value), type(value).__name__)


# Ids already validated: most pages repeat the same org, session and a few users,
# so the regex runs once per distinct id. Bounded, and safe to share between threads.
_KNOWN_IDS: set[str] = set()
_KNOWN_IDS_MAX = 100_000


def canonical_event(item: Any) -> bytes:
    """The item's canonical JSON once it is known to be a storable event.

    The common case is checked inline for speed; anything unusual goes through
    `check_item`, which raises with the precise reason.
    """
    try:
        at, kind = item["createdAtMs"], item["data"]["type"]
        ids = (item["sessionOrgId"], item["sessionId"], item["userId"])
        known = _KNOWN_IDS.issuperset(ids)  # TypeError for an id that is an array or object
    except (KeyError, TypeError, IndexError):
        check_item(item)  # raises with the precise reason
        raise RejectedItemError("item is not a storable event") from None
    if (
        type(at) is not int
        or not 0 <= at <= MAX_TIME_MS
        or type(kind) is not str
        or not (kind and known)
    ):
        check_item(item)
        _remember_ids(ids)
    return canonical_json(item)


def _remember_ids(ids: tuple[str, str, str]) -> None:
    if len(_KNOWN_IDS) > _KNOWN_IDS_MAX:
        _KNOWN_IDS.clear()
    _KNOWN_IDS.update(v for v in ids if v)  # "" is valid only as a userId: never cache it


def may_hold_integral_float(canonical: bytes) -> bool:
    """True if orjson's output may hold an integral float ("1.0", "1e+16").

    Walks the rare "+" and "." with `find` (memchr) rather than searching for the
    two-byte patterns, which is some 40 times slower over a page.
    """
    find = canonical.find
    pos = find(b"+")
    while pos != -1:
        if canonical[pos - 1 : pos] == b"e":
            return True
        pos = find(b"+", pos + 1)
    pos = find(b".")
    while pos != -1:
        if pos and _POINT_ZERO.match(canonical, pos - 1):
            return True
        pos = find(b".", pos + 1)
    return False


def raw_text(item: Any) -> str:
    """The item as JSON text for `rejected_events`; lone surrogates stay visible as escapes."""
    text = _raw_json(item, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _raw_json(item, ensure_ascii=True)
    return text


def _raw_json(item: Any, ensure_ascii: bool) -> str:
    try:
        return json.dumps(item, ensure_ascii=ensure_ascii, separators=(",", ":"), default=repr)
    except RecursionError:  # nested deeper than json.dumps recurses: same text, by loop
        return _deep_json(item, ensure_ascii)


def _deep_json(item: Any, ensure_ascii: bool) -> str:
    """`json.dumps(item, separators=(",", ":"))` without recursion, for very deep items."""
    out: list[str] = []
    stack: list[tuple[bool, Any]] = [(False, item)]  # (is literal text, value)
    while stack:
        literal, value = stack.pop()
        if literal:
            out.append(value)
            continue
        if isinstance(value, dict):
            parts: list[tuple[bool, Any]] = [(True, "{")]
            for i, (key, child) in enumerate(value.items()):
                key_text = json.dumps(str(key), ensure_ascii=ensure_ascii)
                parts += [(True, ("," if i else "") + key_text + ":"), (False, child)]
        elif isinstance(value, list):
            parts = [(True, "[")]
            for i, child in enumerate(value):
                parts += [(True, ",")] if i else []
                parts.append((False, child))
        else:
            out.append(json.dumps(value, ensure_ascii=ensure_ascii, default=repr))
            continue
        parts.append((True, "}" if isinstance(value, dict) else "]"))
        stack.extend(reversed(parts))
    return "".join(out)


def _finite_float(text: str) -> float | NonFiniteNumber:
    """Read a JSON float; one too large for a double (1e400) is kept as text to be rejected."""
    value = float(text)
    return value if math.isfinite(value) else NonFiniteNumber(text)


def decode_page(body: bytes) -> Any:
    """Decode a page body; bytes that are not strict UTF-8 JSON get a lenient second reading.

    The lenient reading keeps invalid bytes as lone surrogates, and NaN, Infinity and
    overflowing literals (1e400) as `NonFiniteNumber`, so the affected items are
    rejected one by one (kept in rejected_events) instead of losing the page. It reads
    any depth of nesting, so an item nested too deep is rejected, not its page.

    Raises:
        ValueError: the body is not JSON at all (truncated, HTML, empty).
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    text = body.decode("utf-8", errors="surrogateescape")
    try:
        return json.loads(text, parse_constant=NonFiniteNumber, parse_float=_finite_float)
    except RecursionError:  # deeper than json.loads recurses: read it by loop instead
        return _loads_deep(text)


_WHITE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_LITERALS = (("null", None), ("true", True), ("false", False))
_CONSTANTS = ("NaN", "Infinity", "-Infinity")
_OPENED = object()


def _loads_deep(text: str) -> Any:
    """`json.loads` as decode_page calls it, by loop, for text nested beyond its recursion.

    Raises:
        ValueError: the text is not one JSON value.
    """
    stack: list[list[Any]] = []  # open containers: [container, key awaiting its value]
    pos = _white(text, 0)
    while True:
        value, pos = _open_or_scalar(text, pos, stack)
        if value is _OPENED:
            continue
        while True:  # attach the value, then read what follows it
            if not stack:
                if _white(text, pos) != len(text):
                    raise ValueError(f"extra data after the JSON value at {pos}")
                return value
            top = stack[-1]
            if isinstance(top[0], dict):
                top[0][top[1]] = value
            else:
                top[0].append(value)
            pos = _white(text, pos)
            closer = "}" if isinstance(top[0], dict) else "]"
            if text.startswith(",", pos):
                pos = _white(text, pos + 1)
                if closer == "}":
                    pos = _key(text, pos, top)
                break
            if not text.startswith(closer, pos):
                raise ValueError(f"expecting ',' or {closer!r} at {pos}")
            pos += 1
            value = stack.pop()[0]


def _white(text: str, pos: int) -> int:
    match = _WHITE.match(text, pos)
    return match.end() if match else pos


def _open_or_scalar(text: str, pos: int, stack: list[list[Any]]) -> tuple[Any, int]:
    """Open a container (an empty one is returned whole) or read a scalar at `pos`."""
    first = text[pos : pos + 1]
    if first not in ("{", "["):
        return _scalar(text, pos)
    closer = "}" if first == "{" else "]"
    after = _white(text, pos + 1)
    if text.startswith(closer, after):
        return ({} if first == "{" else []), after + 1
    stack.append([{} if first == "{" else [], None])
    return _OPENED, (_key(text, after, stack[-1]) if first == "{" else after)


def _key(text: str, pos: int, top: list[Any]) -> int:
    if not text.startswith('"', pos):
        raise ValueError(f"expecting a property name at {pos}")
    top[1], pos = scanstring(text, pos + 1, True)
    pos = _white(text, pos)
    if not text.startswith(":", pos):
        raise ValueError(f"expecting ':' at {pos}")
    return _white(text, pos + 1)


def _scalar(text: str, pos: int) -> tuple[Any, int]:
    if text.startswith('"', pos):
        return scanstring(text, pos + 1, True)
    for name in _CONSTANTS:
        if text.startswith(name, pos):
            return NonFiniteNumber(name), pos + len(name)
    number = _NUMBER.match(text, pos)
    if number:
        if number.group(1) or number.group(2):
            return _finite_float(number.group()), number.end()
        return int(number.group()), number.end()
    for name, value in _LITERALS:
        if text.startswith(name, pos):
            return value, pos + len(name)
    raise ValueError(f"expecting a value at {pos}")
