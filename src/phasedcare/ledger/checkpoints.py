"""Checkpoints: the tree's size and root, signed with Ed25519 in the C2SP signed-note format.

A checkpoint body is ``<origin>\\n<size>\\n<base64 root>\\n`` plus a ``time`` extension line
and a ``map`` line, the root of the map of case heads at that size (:mod:`.heads`; notes
signed before the map existed have none);
the note adds a blank line and one signature line ``— <key name> <base64(key id || sig)>``
where the key id is the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || public key).
A checkpoint only protects against truncation and rollback once a copy leaves the box: they
are also written to a folder meant for write-once storage, which ``verify`` reads back.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime

from phasedcare.ledger.sealing import ed25519_sign, ed25519_verify

__all__ = ["Checkpoint", "key_id", "parse_checkpoint", "sign_checkpoint"]

_DASH = "\u2014"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A verified checkpoint: origin, tree size, root and the time it was signed."""

    origin: str
    size: int
    root: bytes
    signed_at: datetime
    note: str
    map_root: bytes | None = None


def key_id(name: str, public: bytes) -> bytes:
    """The C2SP signed-note key id of an Ed25519 key."""
    return hashlib.sha256(name.encode() + b"\n" + b"\x01" + public).digest()[:4]


def _body(origin: str, size: int, root: bytes, at: datetime, map_root: bytes | None) -> str:
    body = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\ntime {at.isoformat()}\n"
    return body if map_root is None else f"{body}map {base64.b64encode(map_root).decode()}\n"


def sign_checkpoint(
    *,
    origin: str,
    size: int,
    root: bytes,
    at: datetime,
    private: bytes,
    public: bytes,
    map_root: bytes | None = None,
) -> str:
    """A signed note for the tree of ``size`` leaves with ``root`` (and the heads' map)."""
    body = _body(origin, size, root, at, map_root)
    signature = key_id(origin, public) + ed25519_sign(private, body.encode())
    return f"{body}\n{_DASH} {origin} {base64.b64encode(signature).decode()}\n"


def _map_root(extensions: list[str]) -> bytes | None:
    """The map root of a checkpoint's ``map`` extension line, if it has one."""
    for line in extensions:
        if line.startswith("map "):
            return base64.b64decode(line.removeprefix("map "), validate=True)
    return None


def parse_checkpoint(note: str, *, public: bytes, origin: str) -> Checkpoint:
    """The checkpoint a note carries, if ``public`` signed it for ``origin``; else ValueError."""
    body, separator, signatures = note.partition("\n\n")
    if not separator:
        raise ValueError("not a signed note: no blank line before the signatures")
    body += "\n"
    lines = body.splitlines()
    if len(lines) < 4 or lines[0] != origin or not lines[3].startswith("time "):
        raise ValueError(f"not a checkpoint of {origin}")
    wanted = key_id(origin, public)
    for line in signatures.splitlines():
        parts = line.split(" ")
        if len(parts) == 3 and parts[0] == _DASH and parts[1] == origin:
            raw = base64.b64decode(parts[2])
            if raw[:4] == wanted and ed25519_verify(public, body.encode(), raw[4:]):
                return Checkpoint(
                    origin=origin,
                    size=int(lines[1]),
                    root=base64.b64decode(lines[2]),
                    signed_at=datetime.fromisoformat(lines[3].removeprefix("time ")),
                    note=note,
                    map_root=_map_root(lines[4:]),
                )
    raise ValueError("no valid signature by the checkpoint key")
