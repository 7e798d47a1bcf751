"""The export's `manifest.json`: its format, file hashing, writing it last, reading it back."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from toolkit.errors import UsageError, VerifyError

FORMAT = 1
TOOL = "slido-compliance-toolkit"
MANIFEST = "manifest.json"
_CHUNK = 1 << 20  # hash files a megabyte at a time: memory stays flat whatever their size
_TOP_KEYS = ("format", "tool", "version", "created_at", "schema_version", "sessions", "files")


def sha256_file(path: Path) -> str:
    """SHA-256 hex of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def relative(root: Path, path: Path) -> str:
    """A file's path inside the export, with `/` whatever the platform."""
    return path.relative_to(root).as_posix()


def file_entry(root: Path, path: Path, rows: int | None = None) -> dict[str, Any]:
    """The manifest's entry for one file: path, bytes, sha256 and, for Parquet, rows."""
    entry: dict[str, Any] = {
        "path": relative(root, path),
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }
    if rows is not None:
        entry["rows"] = rows
    return entry


def write_manifest(root: Path, manifest: dict[str, Any]) -> Path:
    """Write `manifest.json` whole or not at all: to a temporary name, then renamed.

    The manifest is the last file an export writes, so a folder without one is
    an export that did not finish.
    """
    path = root / MANIFEST
    partial = root / f".{MANIFEST}.partial"
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    with partial.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, path)
    return path


def read_manifest(root: Path) -> dict[str, Any]:
    """Read and check the shape of an export's manifest.

    Raises:
        UsageError: `root` is not a folder.
        VerifyError: the folder has no manifest, or it is not one this tool wrote.
    """
    path = root / MANIFEST
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder; give the export folder to verify")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VerifyError(
            f"{root} has no {MANIFEST}: not an export, or one that did not finish"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerifyError(f"{path} cannot be read as JSON: {exc}") from None
    _check_shape(path, manifest)
    return manifest


def _check_shape(path: Path, manifest: Any) -> None:
    if not isinstance(manifest, dict):
        raise VerifyError(f"{path} is not a JSON object")
    missing = [key for key in _TOP_KEYS if key not in manifest]
    if missing:
        raise VerifyError(f"{path} lacks {', '.join(missing)}")
    if manifest["format"] != FORMAT:
        raise VerifyError(f"{path} is format {manifest['format']!r}; this tool reads {FORMAT}")
    for key, fields in (
        ("files", ("path", "bytes", "sha256")),
        ("sessions", ("session_org_id", "session_id", "events", "event_digest")),
    ):
        entries = manifest[key]
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and all(f in e for f in fields) for e in entries
        ):
            raise VerifyError(f"{path}: every entry of {key} needs {', '.join(fields)}")
