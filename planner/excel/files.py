"""File safety: a workbook is written whole or not at all, never over the wrong file.

:func:`check_writable` refuses, as an :class:`InputError` on sheet ``file``: a name that is not
``.xlsx`` (other files are never overwritten), a folder, a missing folder, the input workbook itself,
and a folder where a file cannot actually be created: it creates and removes a probe file, which
catches read-only mounts and root-squashed network folders that permission bits do not show.

:func:`save_atomically` writes to a temporary file on the target's filesystem and renames it into
place. On Linux the temporary file has no name while it is written (``O_TMPFILE``) and gets one only
for the rename, so a crash or ``kill -9`` leaves nothing behind; elsewhere it is a hidden file named
``.<name>.<16 hex>.planner-tmp`` beside the target. Such a file, left by a crash, is removed by the
next check of the folder once it is older than :data:`STALE_AFTER_SECONDS` (only files of exactly
that pattern, owned by the current user).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from planner.errors import InputError, InputIssue, describe

TEMP_SUFFIX = ".planner-tmp"
TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[0-9a-f]{16}\.planner-tmp$")
EARLIER_TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp\.xlsx$")
"""The temporary report name of earlier versions (``.plan.1a2b3c4d.tmp.xlsx``), also cleaned up."""
STALE_AFTER_SECONDS = 15 * 60.0
"""A temporary file untouched this long belongs to no running write (a save keeps writing to it)."""
_READ_ONLY = (errno.EACCES, errno.EPERM, errno.EROFS)
_PROC_FDS = "/proc/self/fd"


def _refuse(path: Path, column: str, found: str, expected: str) -> InputError:
    return InputError([InputIssue("file", column, found, expected)], source=str(path))


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def temporary_name(path: Path) -> Path:
    """A fresh hidden name beside ``path`` in the temporary-file pattern."""
    return path.parent / f".{path.name}.{secrets.token_hex(8)}{TEMP_SUFFIX}"


def is_temporary_name(name: str) -> bool:
    """True for names of the planner's own temporary files (this version's or earlier ones)."""
    return bool(TEMP_NAME.match(name) or EARLIER_TEMP_NAME.match(name))


def remove_stale_temporary_files(folder: Path, *, older_than_seconds: float = STALE_AFTER_SECONDS) -> list[Path]:
    """Remove the planner's temporary files in ``folder`` left by a crashed write: regular files of
    exactly the temporary-file pattern, owned by this user, untouched for ``older_than_seconds``."""
    removed: list[Path] = []
    deadline = time.time() - older_than_seconds
    owner = os.geteuid() if hasattr(os, "geteuid") else None
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not is_temporary_name(entry.name):
            continue
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if not entry.is_file(follow_symlinks=False) or info.st_mtime > deadline:
                continue
            if owner is not None and info.st_uid != owner:
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def check_writable(path: Path, *, column: str = "path", keep: Path | None = None) -> None:
    """Refuse (InputError, sheet ``file``) a path a workbook must not or cannot be written to.

    ``keep`` is a file that must never be overwritten (the input workbook). Also removes stale
    temporary files of earlier crashed writes in the folder.
    """
    path = Path(path)
    if keep is not None and _same_file(path, Path(keep)):
        raise _refuse(path, column, f"{describe(str(path))}, the input workbook itself",
                      f"a {column} different from the input workbook")
    if path.is_dir():
        raise _refuse(path, column, f"{describe(str(path))}, a folder", "a file name, not a folder")
    if path.suffix.lower() != ".xlsx":
        raise _refuse(path, column, describe(str(path)),
                      "a file name ending in .xlsx (other files are never overwritten)")
    folder = path.parent
    if not folder.is_dir():
        if folder.exists():
            raise _refuse(path, column, f"{describe(str(path))} in a file, not a folder",
                          f"a path in an existing folder ({describe(str(folder))} is a file)")
        raise _refuse(path, column, f"{describe(str(path))} in a folder that does not exist",
                      f"a path in an existing folder ({describe(str(folder))} does not exist)")
    probe = temporary_name(path)
    try:
        with open(probe, "xb"):
            pass
    except OSError as error:
        if error.errno in _READ_ONLY:
            expected = f"a folder you can write to ({describe(str(folder))} is read-only)"
        else:
            expected = "a folder where a file can be created"
        raise _refuse(path, column, f"{describe(str(path))}: {_reason(error)}", expected) from None
    with contextlib.suppress(OSError):
        os.unlink(probe)
    remove_stale_temporary_files(folder)


def _same_file(path: Path, other: Path) -> bool:
    same = path.resolve() == other.resolve()
    if not same and path.exists() and other.exists():
        with contextlib.suppress(OSError):
            same = os.path.samefile(path, other)
    return same


def save_atomically(workbook: Any, path: Path, *, column: str = "path", keep: Path | None = None) -> Path:
    """Save an openpyxl workbook to ``path`` whole or not at all; return ``path``.

    Checks the path first (:func:`check_writable`). On any failure the previous file at ``path`` is
    untouched, no temporary file remains, and an OSError becomes an InputError on sheet ``file``.
    """
    path = Path(path)
    try:
        check_writable(path, column=column, keep=keep)
        with _temporary_file(path, column) as (target, name_it):
            try:
                workbook.save(target)
            except OSError as error:
                raise _refuse(path, column, f"{describe(str(path))}: {_reason(error)}",
                              "a folder with room for the file") from None
            try:
                os.replace(name_it(), path)
            except OSError as error:
                raise _refuse(path, column, f"{describe(str(path))}: {_reason(error)}",
                              "a path that can be replaced (close the file if it is open in Excel)") from None
    except BaseException:
        discard(workbook)
        raise
    return path


@contextlib.contextmanager
def _temporary_file(path: Path, column: str) -> Iterator[tuple[str, Any]]:
    """Yield (a path to write to, a function that fsyncs it and returns its name beside ``path``).

    Unnamed (``O_TMPFILE``, reached through ``/proc/self/fd``) where the system allows it, else a
    hidden named file; whatever happens, no temporary name is left when the block exits with an error.
    """
    handle = _unnamed_file(path.parent)
    named: Path | None = None
    try:
        if handle is not None:

            def name_unnamed() -> Path:
                nonlocal named
                os.fsync(handle)  # the bytes are on disk before a name points at them
                named = temporary_name(path)
                fds = os.open(_PROC_FDS, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.link(str(handle), named, src_dir_fd=fds, follow_symlinks=True)
                finally:
                    os.close(fds)
                return named

            yield f"{_PROC_FDS}/{handle}", name_unnamed
        else:
            named = temporary_name(path)
            try:
                with open(named, "xb"):
                    pass
            except OSError as error:
                named = None
                raise _refuse(path, column, f"{describe(str(path))}: {_reason(error)}",
                              "a folder where a temporary file can be created") from None

            def fsync_named() -> Path:
                assert named is not None
                with contextlib.suppress(OSError), open(named, "rb") as stream:
                    os.fsync(stream.fileno())
                return named

            yield str(named), fsync_named
    except BaseException:
        if named is not None:
            with contextlib.suppress(OSError):
                os.unlink(named)
        raise
    finally:
        if handle is not None:
            os.close(handle)


def _unnamed_file(folder: Path) -> int | None:
    """A file descriptor of an unnamed file in ``folder`` (Linux ``O_TMPFILE``), or None."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir(_PROC_FDS):
        return None
    try:
        return os.open(folder, flag | os.O_WRONLY, 0o666)
    except OSError:  # the filesystem does not support it (or no longer allows writing): use a named file
        return None


def discard(workbook: Any) -> None:
    """Best effort: delete the sheet streams a write-only workbook keeps in the system temp folder
    (openpyxl removes them on save, or at interpreter exit)."""
    for ws in getattr(workbook, "worksheets", []):
        writer = getattr(ws, "_writer", None)
        out = getattr(writer, "out", None)
        if writer is None or not isinstance(out, str):
            continue
        with contextlib.suppress(Exception):
            ws.close()
        with contextlib.suppress(OSError):
            os.remove(out)
