"""C2SP signed notes read by anyone: verifier keys, checkpoint bodies and cosignatures.

What another organisation (an inspectie, a second region, a witness) needs to check this
ledger's checkpoints with the standard tools of transparency logs, and nothing else: the
standard library and Ed25519 from :mod:`phasedcare.ledger.sealing`.

- **Signed note** (c2sp.org/signed-note): a text of newline-terminated lines, a blank line,
  then signature lines ``— <key name> <base64(4-byte key id || signature)>``. The key id is
  ``SHA-256(key name || 0x0A || signature type || public key)[:4]``; signatures of other keys
  are ignored, a signature of the key that fails to verify rejects the note.
- **Verifier key** (vkey): ``<key name>+<hex key id>+<base64(signature type || public key)>``;
  type 0x01 is an Ed25519 note signature (what this ledger signs checkpoints with), type
  0x04 an Ed25519 cosignature.
- **Checkpoint body** (c2sp.org/tlog-checkpoint): origin, tree size, base64 root, then
  extension lines, kept as opaque text.
- **Cosignature** (c2sp.org/tlog-cosignature, ``cosignature/v1``): a witness's Ed25519
  signature over ``cosignature/v1\\ntime <unix seconds>\\n`` and the checkpoint body; its
  signature line carries key id || 8-byte big-endian timestamp || signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from phasedcare.ledger.sealing import ed25519_sign, ed25519_verify

__all__ = [
    "COSIGNATURE_ED25519",
    "MAX_NOTE_BYTES",
    "NOTE_ED25519",
    "CheckpointBody",
    "Note",
    "NoteSignature",
    "cosign",
    "cosignatures",
    "note_key_id",
    "open_checkpoint",
    "parse_body",
    "parse_note",
    "parse_verifier_key",
    "verifier_key",
    "verify_note",
]

NOTE_ED25519 = 0x01
"""Signature type of an Ed25519 note signature (the operator's checkpoint key)."""

COSIGNATURE_ED25519 = 0x04
"""Signature type of a timestamped Ed25519 cosignature (a witness's key)."""

MAX_NOTE_BYTES = 1 << 20
"""The largest note read (the spec asks for at least 16 signatures of up to 5 kB each)."""

_MAX_SIGNATURES = 100
_MAX_SIZE = (1 << 63) - 1
_DASH = "\u2014"
_HASH_BYTES = 32
_ED25519_KEY_BYTES = 32
_ED25519_SIGNATURE_BYTES = 64
_TYPE_NAMES = {NOTE_ED25519: "an Ed25519 note key", COSIGNATURE_ED25519: "a cosignature key"}


def note_key_id(name: str, public: bytes, *, kind: int = NOTE_ED25519) -> bytes:
    """The 4-byte key id of ``public`` under ``name`` for signature type ``kind``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public).digest()[:4]


def _check_name(name: str) -> None:
    if not name:
        raise ValueError("a key name must not be empty")
    if "+" in name or any(c.isspace() or ord(c) < 0x20 for c in name):
        raise ValueError(f"key name {name!r} holds a space, a control character or a plus sign")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not standard base64") from None


def verifier_key(name: str, public: bytes, *, kind: int = NOTE_ED25519) -> str:
    """The vkey ``<name>+<hex key id>+<base64(kind || public)>`` of an Ed25519 key."""
    _check_name(name)
    if len(public) != _ED25519_KEY_BYTES:
        raise ValueError(f"an Ed25519 public key is 32 bytes, not {len(public)}")
    if kind not in _TYPE_NAMES:
        raise ValueError(f"signature type {kind:#04x} is not an Ed25519 type this ledger uses")
    material = base64.b64encode(bytes([kind]) + public).decode()
    return f"{name}+{note_key_id(name, public, kind=kind).hex()}+{material}"


def parse_verifier_key(text: str, *, kind: int = NOTE_ED25519) -> tuple[str, bytes]:
    """The key name and 32-byte Ed25519 public key of a vkey of type ``kind``.

    ValueError, saying what is wrong, for anything else: another form, a bad name, a key id
    that is not 8 hex digits or does not match the key, another signature type or key size.
    """
    parts = text.strip().split("+", 2)  # base64 may hold "+": only the first two separate
    if len(parts) != 3:  # name, key id, key
        raise ValueError(
            f"{text.strip()[:80]!r} is not a verifier key of the form "
            "<name>+<8 hex digits key id>+<base64 key>"
        )
    name, hex_id, material = parts
    _check_name(name)
    if len(hex_id) != 8 or any(c not in "0123456789abcdefABCDEF" for c in hex_id):
        raise ValueError(f"the key id {hex_id!r} of verifier key {name} is not 8 hex digits")
    raw = _b64decode(material, f"the key of verifier key {name}")
    if not raw or raw[0] != kind:
        found = f"type {raw[0]:#04x}" if raw else "no signature type"
        wanted = _TYPE_NAMES.get(kind, f"type {kind:#04x}")
        raise ValueError(f"verifier key {name} has {found}, but {wanted} is expected")
    public = raw[1:]
    if len(public) != _ED25519_KEY_BYTES:
        raise ValueError(
            f"verifier key {name} holds a {len(public)}-byte key, not a 32-byte Ed25519 key"
        )
    expected = note_key_id(name, public, kind=kind).hex()
    if hex_id.lower() != expected:
        raise ValueError(
            f"the key id {hex_id} of verifier key {name} does not match its key ({expected})"
        )
    return name, public


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: the key name, the key id and the bytes after the key id."""

    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class Note:
    """A signed note split in its text (final newline included) and its signature lines."""

    text: str
    signatures: tuple[NoteSignature, ...]


def parse_note(note: str) -> Note:
    """Split a signed note; ValueError when it is not one (no signature verified yet)."""
    if len(note.encode("utf-8", "surrogatepass")) > MAX_NOTE_BYTES:
        raise ValueError(f"the note is larger than {MAX_NOTE_BYTES} bytes")
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise ValueError("the note holds control characters other than newline")
    if not note.endswith("\n"):
        raise ValueError("the note does not end in a newline")
    head, separator, tail = note[:-1].rpartition("\n\n")
    if not separator:
        raise ValueError("not a signed note: no blank line before the signatures")
    lines = tail.split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise ValueError(f"the note has more than {_MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        dash, _, rest = line.partition(" ")
        name, _, encoded = rest.partition(" ")
        if dash != _DASH or not name or not encoded or " " in encoded:
            raise ValueError(f"{line[:80]!r} is not a signature line '— <name> <base64>'")
        _check_name(name)
        raw = _b64decode(encoded, f"the signature of {name}")
        if len(raw) < 5:  # a key id and at least one byte
            raise ValueError(f"the signature of {name} is too short")
        signatures.append(NoteSignature(name=name, key_id=raw[:4], signature=raw[4:]))
    return Note(text=head + "\n", signatures=tuple(signatures))


def verify_note(note: str, vkey: str) -> Note:
    """The note, if the Ed25519 note key ``vkey`` signed it; ValueError otherwise.

    Signatures of other keys (other names or key ids: witnesses, a rotated key) are ignored;
    a signature of this key that does not verify rejects the whole note.
    """
    name, public = parse_verifier_key(vkey)
    parsed = parse_note(note)
    wanted = note_key_id(name, public)
    mine = [s for s in parsed.signatures if (s.name, s.key_id) == (name, wanted)]
    if not mine:
        raise ValueError(f"the note carries no signature of {name} (key id {wanted.hex()})")
    for signature in mine:
        if not ed25519_verify(public, parsed.text.encode(), signature.signature):
            raise ValueError(f"the signature of {name} does not verify: the note was altered")
    return parsed


@dataclass(frozen=True, slots=True)
class CheckpointBody:
    """A checkpoint's origin, tree size and root, its extension lines, and the whole text."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...]
    text: str


def parse_body(text: str) -> CheckpointBody:
    """The origin, size and root of a checkpoint body (the note text), with no key.

    Extension lines (``time ...`` and whatever follows) are kept verbatim, never interpreted.
    """
    if not text.endswith("\n"):
        raise ValueError("a checkpoint body ends in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:  # origin, size, root
        raise ValueError("a checkpoint body has an origin, a size and a root line")
    origin, size_line, root_line, *extensions = lines
    if not origin:
        raise ValueError("the checkpoint's origin line is empty")
    if not (size_line.isascii() and size_line.isdigit()) or (
        len(size_line) > 1 and size_line[0] == "0"
    ):
        raise ValueError(f"the checkpoint size {size_line[:30]!r} is not a decimal number")
    size = int(size_line)
    if size > _MAX_SIZE:
        raise ValueError(f"the checkpoint size {size} is beyond 2^63 - 1")
    root = _b64decode(root_line, "the checkpoint root")
    if len(root) != _HASH_BYTES:
        raise ValueError(f"the checkpoint root is {len(root)} bytes, not a SHA-256 hash")
    if any(not line for line in extensions):
        raise ValueError("a checkpoint extension line is empty")
    return CheckpointBody(
        origin=origin, size=size, root=root, extensions=tuple(extensions), text=text
    )


def open_checkpoint(note: str, vkey: str) -> CheckpointBody:
    """The checkpoint of a note ``vkey`` signed, whose origin is the key's name; else ValueError."""
    body = parse_body(verify_note(note, vkey).text)
    name, _ = parse_verifier_key(vkey)
    if body.origin != name:
        raise ValueError(f"the checkpoint is of origin {body.origin!r}, not of {name!r}")
    return body


def _cosigned_message(timestamp: int, text: str) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def cosign(note: str, *, name: str, private: bytes, public: bytes, at: datetime) -> str:
    """The note with one more signature line: ``name``'s cosignature/v1 of it at ``at``."""
    _check_name(name)
    parsed = parse_note(note)
    parse_body(parsed.text)
    if at.tzinfo is None:
        raise ValueError("a cosignature's time needs a timezone")
    timestamp = int(at.timestamp())
    if not 0 < timestamp <= _MAX_SIZE:
        raise ValueError(f"a cosignature's time {at.isoformat()} is before 1970 or too late")
    signature = ed25519_sign(private, _cosigned_message(timestamp, parsed.text))
    raw = (
        note_key_id(name, public, kind=COSIGNATURE_ED25519)
        + timestamp.to_bytes(8, "big")
        + signature
    )
    return f"{note}{_DASH} {name} {base64.b64encode(raw).decode()}\n"


def cosignatures(note: str, vkey: str) -> list[datetime]:
    """When the cosigner of ``vkey`` (a cosignature key, type 0x04) cosigned the note.

    Empty when it did not; ValueError when one of its cosignatures does not verify (the
    note or the cosignature was altered), or the note is not a signed checkpoint.
    """
    name, public = parse_verifier_key(vkey, kind=COSIGNATURE_ED25519)
    parsed = parse_note(note)
    parse_body(parsed.text)
    wanted = note_key_id(name, public, kind=COSIGNATURE_ED25519)
    found = []
    for line in parsed.signatures:
        if (line.name, line.key_id) != (name, wanted):
            continue
        if len(line.signature) != 8 + _ED25519_SIGNATURE_BYTES:
            raise ValueError(f"the cosignature of {name} is not a timestamp and a signature")
        timestamp = int.from_bytes(line.signature[:8], "big")
        message = _cosigned_message(timestamp, parsed.text)
        if timestamp > _MAX_SIZE or not ed25519_verify(public, message, line.signature[8:]):
            raise ValueError(f"the cosignature of {name} does not verify: the note was altered")
        found.append(datetime.fromtimestamp(timestamp, tz=UTC))
    return found
