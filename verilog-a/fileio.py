"""Deterministic, atomic file output and content hashes, shared by every layer (no torch, no simulator).

Every file ipnet-cosim writes for a user goes through a temporary name and :func:`os.replace`, so an
interrupted or failed step never leaves a half-written file where an earlier result was.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable


def json_default(obj: Any) -> Any:
    """JSON encoding of the non-JSON types the toolkit writes (paths, tuples, numpy/torch scalars)."""
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, tuple)):
        return list(obj)
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def format_json(data: Any) -> str:
    """Deterministic JSON text: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, default=json_default, allow_nan=True) + "\n"


def atomic_write_bytes(path: Path, write: Callable[[Path], Any]) -> None:
    """Call ``write(tmp)`` on a temporary sibling of ``path`` and rename it into place."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """Deterministic JSON (:func:`format_json`), written atomically."""
    text = format_json(data)
    atomic_write_bytes(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_json(data: Any) -> str:
    """SHA-256 of the deterministic JSON text of ``data`` (hex)."""
    return hashlib.sha256(format_json(data).encode()).hexdigest()
