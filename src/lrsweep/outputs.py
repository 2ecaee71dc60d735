"""Writing result files (JSON, CSV, reports) without ever destroying anything.

Two rules, for the API and the CLI alike:

* a file that SQLite wrote (a store, its ``-wal`` log, or any other database) is never
  written over, whatever the flags: the header is read, the name is not trusted;
* any other existing file is replaced only when asked (``overwrite=True``; CLI ``--force``).

Files are written to a temporary sibling first and moved into place, so an interrupted write
leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .errors import ConfigError, bad_arg

SQLITE_HEADER = b"SQLite format 3\x00"
# a write-ahead log starts with one of these two big-endian magic numbers
WAL_MAGICS = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")


def is_sqlite_file(path: str | os.PathLike[str]) -> bool:
    """True for an SQLite database or write-ahead log, judged by the file's first bytes."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError:
        return False
    return head == SQLITE_HEADER or head[:4] in WAL_MAGICS


def check_output(path: str | os.PathLike[str], *, overwrite: bool = False,
                 name: str = "path", force_hint: str = "overwrite=True") -> Path:
    """The path to write to, refused (``ConfigError``) if writing would destroy something:
    an SQLite file (always), a directory, or an existing file unless ``overwrite``."""
    p = Path(path)
    if p.is_dir():
        raise bad_arg(name, str(p), "a file path, not a directory",
                      f"Pass a file name inside it, e.g. {p / 'sweep.json'}.")
    if p.exists() or p.is_symlink():
        if is_sqlite_file(p) or _is_sqlite_sidecar(p):
            raise ConfigError(
                f"{name}={str(p)!r}: is an SQLite file (an lrsweep store or another database); "
                "lrsweep never writes a result over it, with or without "
                f"{force_hint}. Pass another output file, e.g. {p.with_suffix('.json')}.")
        if not overwrite:
            raise ConfigError(
                f"{name}={str(p)!r}: the file exists. Pass {force_hint} to replace it, or "
                "choose another name.")
    check_folder(p, name)
    return p


def check_folder(path: Path, name: str = "path") -> None:
    """The folder ``path`` would be written into is a folder, or can be made one, that this
    process can write into (nothing is created here); the message names the file."""
    probe = path.parent
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{name}={str(path)!r}: cannot be written: {probe} is a file, not "
                          "a folder. Pass a path in a folder.")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{name}={str(path)!r}: cannot be written: the folder {probe} is "
                          "read-only. Pass a file in a folder you can write to.")


def _write_error(p: Path, name: str, e: OSError) -> ConfigError:
    why = e.strerror or str(e)
    return ConfigError(f"{name}={str(p)!r}: cannot be written ({why}). Pass a file in a "
                       "folder you can write to.")


def _is_sqlite_sidecar(p: Path) -> bool:
    """``x.db-wal`` / ``-shm`` / ``-journal`` next to an SQLite ``x.db``: part of a store."""
    for suffix in ("-wal", "-shm", "-journal"):
        if p.name.endswith(suffix):
            return is_sqlite_file(p.with_name(p.name[: -len(suffix)]))
    return False


def write_text(path: str | os.PathLike[str], text: str, *, overwrite: bool = False,
               name: str = "path", force_hint: str = "overwrite=True",
               newline: str | None = None) -> Path:
    """Write ``text`` to ``path`` after ``check_output``, atomically (temporary file, then
    ``os.replace``). Creates missing parent folders."""
    p = check_output(path, overwrite=overwrite, name=name, force_hint=force_hint)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    except OSError as e:  # a read-only disk, no space, a folder that vanished...
        raise _write_error(p, name, e) from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as f:
            f.write(text)
        os.chmod(tmp, _file_mode())  # mkstemp makes 0600; a report is shared like any file
        # re-check just before the move: a store created meanwhile is still never replaced
        check_output(p, overwrite=overwrite, name=name, force_hint=force_hint)
        os.replace(tmp, p)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _write_error(p, name, e) from e
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return p


def _file_mode() -> int:
    """The mode ``open()`` would give a new file: 0o666 less the process's umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask

