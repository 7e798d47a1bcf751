"""A DataFrame to bytes: an aligned text table, CSV, JSON or Parquet.

CSV output neutralises spreadsheet formulas (the OWASP rule): a text cell that
starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading
apostrophe, so a participant's question such as `=HYPERLINK(...)` stays text
when a records officer opens the file in a spreadsheet.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.errors import UsageError

FORMATS = ("table", "csv", "json", "parquet")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_ISO_NAIVE = "%Y-%m-%dT%H:%M:%S%.f"
_ISO_ZONED = _ISO_NAIVE + "%:z"
_FORMULA_START = r"^[=+\-@\t\r]"
# C0/C1 controls, and the bidi overrides and isolates that can make a terminal
# show a name backwards (U+202A-202E, U+2066-2069, and the marks U+200E-200F).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def render_frame(df: pl.DataFrame, fmt: str) -> bytes:
    """Render a frame as bytes in one of `FORMATS`.

    Args:
        df: the frame to render; every row is written.
        fmt: `table` (aligned text), `csv` (formulas neutralised), `json` (an
            array of objects, times in ISO 8601) or `parquet`.

    Returns:
        The encoded frame; text formats are UTF-8.

    Raises:
        UsageError: if `fmt` is not one of `FORMATS`.

    Example:
        >>> render_frame(pl.DataFrame({"a": [1]}), "csv")
        b'a\\n1\\n'
    """
    return _renderer(fmt)(df)


def write_frame(df: pl.DataFrame, fmt: str, path: str | Path) -> Path:
    """Write a frame to `path` in one of `FORMATS` and return the path.

    Example:
        >>> write_frame(pl.DataFrame({"a": [1]}), "json", "out.json")  # doctest: +SKIP
        PosixPath('out.json')
    """
    render = _renderer(fmt)
    target = Path(path)
    target.write_bytes(render(df))
    return target


def _renderer(fmt: str) -> Callable[[pl.DataFrame], bytes]:
    renderers: dict[str, Callable[[pl.DataFrame], bytes]] = {
        "table": render_table,
        "csv": render_csv,
        "json": render_json,
        "parquet": render_parquet,
    }
    if fmt not in renderers:
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return renderers[fmt]


def neutralise_formula(value: str) -> str:
    """Prefix an apostrophe to text a spreadsheet would read as a formula.

    Example:
        >>> neutralise_formula("=1+1")
        "'=1+1"
    """
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def render_csv(df: pl.DataFrame) -> bytes:
    """CSV with a header row, nested values as JSON and formulas neutralised."""
    flat = _plain_columns(_flatten(df))
    text = [name for name, dtype in flat.schema.items() if _is_text(dtype)]
    safe = flat.with_columns(_neutralised(pl.col(name).cast(pl.String)) for name in text)
    return safe.write_csv().encode("utf-8")


def _plain_columns(df: pl.DataFrame) -> pl.DataFrame:
    """What CSV cannot hold as is: times as ISO 8601, durations as seconds, bytes as hex."""
    return df.with_columns(
        _plain(pl.col(name), dtype)
        for name, dtype in df.schema.items()
        if isinstance(dtype, (pl.Datetime, pl.Duration, pl.Binary))
    )


def _plain(column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if isinstance(dtype, pl.Datetime):
        return column.dt.to_string(_ISO_ZONED if dtype.time_zone else _ISO_NAIVE)
    if isinstance(dtype, pl.Duration):
        return column.dt.total_microseconds() / 1_000_000
    return column.bin.encode("hex")


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))


def _neutralised(column: pl.Expr) -> pl.Expr:
    risky = column.str.contains(_FORMULA_START)
    return pl.when(risky).then(pl.lit("'") + column).otherwise(column).name.keep()


def render_json(df: pl.DataFrame) -> bytes:
    """A JSON array of objects, one per row; times in ISO 8601, keys in column order."""
    rows = [
        {name: _finite(value) for name, value in zip(df.columns, row, strict=True)}
        for row in df.iter_rows()
    ]
    lines = [json.dumps(row, default=json_default, ensure_ascii=False) for row in rows]
    return ("[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n").encode("utf-8")


def render_parquet(df: pl.DataFrame) -> bytes:
    """The frame as a Parquet file."""
    buffer = io.BytesIO()
    df.write_parquet(buffer)
    return buffer.getvalue()


def render_table(df: pl.DataFrame) -> bytes:
    """An aligned plain-text table of every row, numbers right-aligned, then a row count."""
    header = list(df.columns)
    body = [[cell_text(value) for value in row] for row in df.iter_rows()]
    widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(header)]
    right = [dtype.is_numeric() for dtype in df.dtypes]
    lines = [_table_line(header, widths, [False] * len(header))]
    lines.append("  ".join("-" * w for w in widths).rstrip())
    lines.extend(_table_line(row, widths, right) for row in body)
    count = df.height
    lines.append(f"({count} row{'' if count == 1 else 's'})")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _table_line(cells: list[str], widths: list[int], right: list[bool]) -> str:
    parts = [
        cell.rjust(width) if is_right else cell.ljust(width)
        for cell, width, is_right in zip(cells, widths, right, strict=True)
    ]
    return "  ".join(parts).rstrip()


def cell_text(value: Any) -> str:
    """One value as single-line text: empty for NULL, ISO times, control characters escaped."""
    if value is None:
        return ""
    if isinstance(value, str):
        return _CONTROL.sub(_escape_control, value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, dict, tuple, pl.Series)):
        return cell_text(_to_json_text(value))
    return cell_text(str(json_default(value)))


def _escape_control(match: re.Match[str]) -> str:
    char = match.group()
    if ord(char) > 0xFF:
        return f"\\u{ord(char):04x}"
    return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char, f"\\x{ord(char):02x}")


def json_default(value: Any) -> Any:
    """JSON for values `json` does not know: ISO times, seconds for durations, exact decimals."""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _finite(value: Any) -> Any:
    """NaN and infinities have no JSON spelling: write them as null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _flatten(df: pl.DataFrame) -> pl.DataFrame:
    """Nested columns (lists, structs, arrays) as JSON text, so CSV can hold them."""
    nested = [name for name, dtype in df.schema.items() if dtype.is_nested()]
    return df.with_columns(
        pl.col(name).map_elements(_to_json_text, return_dtype=pl.String, skip_nulls=True)
        for name in nested
    )


def _to_json_text(value: Any) -> str:
    if isinstance(value, pl.Series):
        value = value.to_list()
    return json.dumps(value, default=json_default, ensure_ascii=False)
