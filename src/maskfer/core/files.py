"""Files are written whole or not at all: to a temporary name in the same folder, then renamed.

A run killed halfway leaves either the old file, the new one, or nothing; never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from maskfer.errors import MaskferError


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str))


def check_output_file(path: str | Path, option: str, *, overwrite: bool = False, resume: bool | None = None) -> Path:
    """The one rule for a file maskfer writes for a user, checked before any work: its folder exists and can be
    written (a missing folder is an error, never created), the path is no folder, and a file already there is
    replaced only with --overwrite or, where the command can continue one (`resume` not None), continued only with
    --resume. A one-line MaskferError otherwise."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise MaskferError(f"{path}: {option} is a folder; give a file name")
    if not parent.is_dir():
        raise MaskferError(f"{path}: {option}'s folder {parent} does not exist (maskfer does not create it)")
    try:  # a real try, not os.access: root passes every access check, and /proc refuses root too
        tempfile.TemporaryFile(dir=parent).close()
    except OSError as exc:
        raise MaskferError(f"{path}: {option}'s folder {parent} cannot be written to ({exc.strerror})") from None
    if path.exists() and not (overwrite or resume):
        raise MaskferError(f"{path}: already exists; add --overwrite to replace it"
                           + (" or --resume to continue it" if resume is not None else ""))
    return path


def check_output_folder(path: str | Path, option: str, files: tuple[str, ...] = (), overwrite: bool = False) -> Path:
    """The rule for a folder maskfer writes files into: no file in its place, and its parent exists; the folder is
    made here (not its parents), so a folder that cannot be made or written fails before any work. The `files` it
    will write there follow `check_output_file` (replaced only with `overwrite`)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise MaskferError(f"{path}: {option} must be a folder, and this is a file")
    parent = path.parent if str(path.parent) else Path(".")
    if not path.exists() and not parent.is_dir():
        raise MaskferError(f"{path}: {option}'s parent folder {parent} does not exist (maskfer does not create it)")
    try:
        path.mkdir(exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as exc:
        raise MaskferError(f"{path}: {option} cannot be written to ({exc.strerror})") from None
    for name in files:
        check_output_file(path / name, option, overwrite=overwrite)
    return path
