"""Writing a file whole or not at all: keys, checkpoint notes and config survive a kill.

The bytes go to a temporary file in the same folder, are synced, and the file is linked into
place: a link is atomic and refuses to replace an existing file, so a process killed halfway
leaves no empty or partial file behind (an empty KEK file would sort newest and become the
current key; an empty checkpoint note would fail verification for good), and the first
writer of a name wins.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_new_file"]


def write_new_file(path: Path, data: bytes, *, mode: int = 0o600) -> bool:
    """Create ``path`` holding exactly ``data`` with ``mode``; False when it exists already."""
    if path.exists():
        return False
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)
    return True
