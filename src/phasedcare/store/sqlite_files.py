"""SQLite files are private: created 0600, in folders created 0700, before SQLite opens them.

SQLite creates a database's ``-wal``, ``-shm`` and ``-journal`` files with the mode of the
database file itself, so a database file that exists 0600 before its first connection keeps
its companions private too, wherever the URL points (a folder outside the home that others
may list included, and a ``sqlite:///file:...?uri=true`` URI's file). An empty file is a
valid, empty SQLite database.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

__all__ = ["COMPANIONS", "private_folder", "private_sqlite_file", "sqlite_file"]

COMPANIONS = ("-wal", "-shm", "-journal")
"""The suffixes of the files SQLite keeps beside a database file."""

_FILE_MODE = 0o600
_FOLDER_MODE = 0o700


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names, a ``file:`` URI's too; None for another database or memory."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in {"", ":memory:"}:
        return None
    if database.startswith("file:"):
        return _uri_file(database, parsed.query)
    return Path(database).expanduser()


def _uri_file(uri: str, query: Mapping[str, str | tuple[str, ...]]) -> Path | None:
    """The file a SQLite ``file:`` URI names (``file:x.db``, ``file:/abs/x.db``,
    ``file:///abs/x.db``, ``file://localhost/abs/x.db``; percent-decoded); None for an
    in-memory database (``mode=memory``, ``file::memory:``, the ``memdb`` VFS) or a host
    SQLite does not open. Parameters count from the URI and from the URL's query, where
    SQLAlchemy takes them from."""
    parts = urlsplit(uri)
    params = {k: [str(v)] if isinstance(v, str) else [str(x) for x in v] for k, v in query.items()}
    for key, values in parse_qs(parts.query).items():
        params.setdefault(key, []).extend(values)
    path = unquote(parts.path)
    memory = "memory" in params.get("mode", []) or "memdb" in params.get("vfs", [])
    if memory or path in {"", ":memory:"} or parts.netloc not in {"", "localhost"}:
        return None
    return Path(path)


def private_folder(folder: Path) -> None:
    """Create ``folder`` and its missing parents, each 0700 (``mkdir -p`` would make 0755);
    folders that exist are left as they are."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(mode=_FOLDER_MODE, exist_ok=True)


def _tighten(path: Path) -> None:
    """Take group and other access off an existing file of ours (an older release's 0644)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, stat.S_IMODE(info.st_mode) & _FILE_MODE)


def private_sqlite_file(url: str) -> Path | None:
    """Make sure the SQLite file of ``url`` exists 0600 before anything connects to it.

    A missing file is created empty with mode 0600 (its missing folders 0700); an existing
    one, and its companions, lose any group or other access. Returns the file, or None when
    ``url`` names no SQLite file.
    """
    path = sqlite_file(url)
    if path is None:
        return None
    private_folder(path.parent)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE))
    for companion in ("", *COMPANIONS):
        _tighten(path.with_name(path.name + companion))
    return path
