"""C2SP signed notes: verifier keys against the published vectors, checkpoint bodies,
cosignatures, and the malformed keys and notes a verifier must refuse."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from phasedcare.ledger.checkpoints import key_id, parse_checkpoint, sign_checkpoint
from phasedcare.ledger.keys import CheckpointKey
from phasedcare.ledger.merkle import root
from phasedcare.ledger.notes import (
    COSIGNATURE_ED25519,
    cosign,
    cosignatures,
    note_key_id,
    open_checkpoint,
    parse_body,
    parse_note,
    parse_verifier_key,
    verifier_key,
    verify_note,
)
from phasedcare.ledger.sealing import ed25519_sign

# c2sp.org/signed-note, "Verifier keys: Example": this vkey verifies this note.
C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_NOTE = (
    "This is an example message.\n"
    "\n"
    "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFX"
    "mRKuwHjG1Yu72IneyaQM=\n"
)
# transparency-dev/formats note tests: an Ed25519 vkey whose base64 holds a "+", and a
# native cosignature/v1 (type 0x04) vkey.
PLUS_VKEY = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
COSIGNER_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ORIGIN = "phasedcare/ijsselland"


def _checkpoint(size: int = 3) -> tuple[CheckpointKey, str]:
    key = CheckpointKey.generate()
    leaves = [bytes([i]) * 32 for i in range(size)]
    note = sign_checkpoint(
        origin=ORIGIN, size=size, root=root(leaves), at=AT, private=key.private, public=key.public
    )
    return key, note


def test_the_c2sp_example_vkey_parses_and_verifies_its_note() -> None:
    """The published vector: name, key, key id, and the example note's signature."""
    name, public = parse_verifier_key(C2SP_VKEY)
    assert name == "example.com/foo"
    assert base64.b64encode(b"\x01" + public).decode() == C2SP_VKEY.split("+")[2]
    assert note_key_id(name, public).hex() == "530d903a"
    assert verifier_key(name, public) == C2SP_VKEY
    parsed = verify_note(C2SP_NOTE, C2SP_VKEY)
    assert parsed.text == "This is an example message.\n"
    assert [(s.name, s.key_id.hex()) for s in parsed.signatures] == [
        ("example.com/foo", "530d903a")
    ]


def test_a_vkey_whose_base64_holds_a_plus_round_trips() -> None:
    """Only the first two plus signs separate the parts."""
    name, public = parse_verifier_key(PLUS_VKEY)
    assert (name, len(public)) == ("TEST", 32)
    assert verifier_key(name, public) == PLUS_VKEY


def test_a_cosignature_vkey_is_type_4_and_not_a_note_key() -> None:
    """The published cosigner key parses as type 0x04, and is refused as an 0x01 note key."""
    name, public = parse_verifier_key(COSIGNER_VKEY, kind=COSIGNATURE_ED25519)
    assert name == "remora.n621.de"
    assert verifier_key(name, public, kind=COSIGNATURE_ED25519) == COSIGNER_VKEY
    with pytest.raises(ValueError, match=r"has type 0x04, but an Ed25519 note key is expected"):
        parse_verifier_key(COSIGNER_VKEY)


def test_the_checkpoint_key_id_is_the_vkey_key_id() -> None:
    """checkpoints.key_id (the signature lines) and the vkey name the same key."""
    key = CheckpointKey.generate()
    vkey = verifier_key(ORIGIN, key.public)
    assert vkey.split("+")[1] == key_id(ORIGIN, key.public).hex()
    assert parse_verifier_key(vkey) == (ORIGIN, key.public)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is not a verifier key of the form"),
        ("example.com/foo+530d903a", "is not a verifier key of the form"),
        ("+530d903a+" + C2SP_VKEY.split("+")[2], "a key name must not be empty"),
        ("exa mple+530d903a+" + C2SP_VKEY.split("+")[2], "holds a space"),
        ("example.com/foo+530d90+" + C2SP_VKEY.split("+")[2], "is not 8 hex digits"),
        ("example.com/foo+530d903z+" + C2SP_VKEY.split("+")[2], "is not 8 hex digits"),
        ("example.com/foo+530d903a+not*base64", "is not standard base64"),
        ("example.com/foo+530d903a+AQID", "holds a 2-byte key, not a 32-byte Ed25519 key"),
        ("example.com/foo+530d903a+AwEB", "has type 0x03, but an Ed25519 note key"),
        (
            "example.com/foo+00000000+" + C2SP_VKEY.split("+")[2],
            r"does not match its key \(530d903a\)",
        ),
        ("example.com/bar+530d903a+" + C2SP_VKEY.split("+")[2], "does not match its key"),
    ],
)
def test_malformed_verifier_keys_are_refused_saying_why(text: str, message: str) -> None:
    """Each wrong part gets its own message; none parses."""
    with pytest.raises(ValueError, match=message):
        parse_verifier_key(text)


def test_a_note_signed_by_another_key_or_altered_is_refused() -> None:
    """Another key's signature is ignored (then none is left); an altered text fails."""
    with pytest.raises(ValueError, match=r"carries no signature of example\.com/foo"):
        verify_note(C2SP_NOTE, verifier_key("example.com/foo", CheckpointKey.generate().public))
    altered = C2SP_NOTE.replace("example message", "exemplary message")
    with pytest.raises(ValueError, match="does not verify: the note was altered"):
        verify_note(altered, C2SP_VKEY)


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("no signatures\n", "no blank line before the signatures"),
        ("text\n\n— example.com/foo AAAA", "does not end in a newline"),
        ("text\n\n— example.com/foo\n", "is not a signature line"),
        ("text\n\n- example.com/foo AAAAAAAA\n", "is not a signature line"),
        ("text\n\n— example.com/foo AAAA\n", "is too short"),
        ("te\x07xt\n\n— example.com/foo AAAAAAAA\n", "control characters"),
    ],
)
def test_malformed_notes_are_refused(note: str, message: str) -> None:
    """What is not a signed note never reaches signature verification."""
    with pytest.raises(ValueError, match=message):
        parse_note(note)


def test_the_body_of_a_checkpoint_parses_without_a_key_and_keeps_extensions() -> None:
    """Origin, size and root from any checkpoint; extension lines kept verbatim, in order."""
    _, note = _checkpoint(size=3)
    body = parse_body(parse_note(note).text)
    assert (body.origin, body.size) == (ORIGIN, 3)
    assert body.root == root([bytes([i]) * 32 for i in range(3)])
    assert body.extensions == (f"time {AT.isoformat()}",)
    extended = parse_body(body.text + "map AAAA\n")
    assert extended.extensions == (f"time {AT.isoformat()}", "map AAAA")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("o\n3\n", "has an origin, a size and a root line"),
        ("\n3\n" + "A" * 43 + "=\n", "origin line is empty"),
        ("o\n03\n" + "A" * 43 + "=\n", "is not a decimal number"),
        ("o\n-3\n" + "A" * 43 + "=\n", "is not a decimal number"),
        ("o\n3\nAAAA\n", "is 3 bytes, not a SHA-256 hash"),
        ("o\n3\n" + "A" * 43 + "=\n\n", "extension line is empty"),
        ("o\n99999999999999999999\n" + "A" * 43 + "=\n", "beyond 2"),
    ],
)
def test_malformed_checkpoint_bodies_are_refused(text: str, message: str) -> None:
    """tlog-checkpoint's rules: no leading zeros, a 32-byte root, no empty extension line."""
    with pytest.raises(ValueError, match=message):
        parse_body(text)


def test_open_checkpoint_checks_signature_and_origin() -> None:
    """The operator's vkey opens its checkpoint; one named for another origin does not."""
    key, note = _checkpoint(size=5)
    body = open_checkpoint(note, verifier_key(ORIGIN, key.public))
    assert (body.origin, body.size) == (ORIGIN, 5)
    with pytest.raises(ValueError, match="carries no signature of phasedcare/elders"):
        open_checkpoint(note, verifier_key("phasedcare/elders", key.public))


def test_a_cosignature_verifies_and_covers_the_whole_body() -> None:
    """cosignature/v1: one line more, its time as signed, the operator's signature intact."""
    operator, note = _checkpoint(size=4)
    witness = CheckpointKey.generate()
    wkey = verifier_key("inspectie.example/w1", witness.public, kind=COSIGNATURE_ED25519)
    cosigned = cosign(
        note, name="inspectie.example/w1", private=witness.private, public=witness.public, at=AT
    )
    assert cosigned.startswith(note)
    added = cosigned.removeprefix(note)
    assert added.startswith("— inspectie.example/w1 ")
    raw = base64.b64decode(added.split(" ")[2])
    assert len(raw) == 4 + 8 + 64
    assert raw[:4] == note_key_id("inspectie.example/w1", witness.public, kind=COSIGNATURE_ED25519)
    assert int.from_bytes(raw[4:12], "big") == int(AT.timestamp())
    assert cosignatures(cosigned, wkey) == [AT]
    assert cosignatures(note, wkey) == []
    assert parse_checkpoint(cosigned, public=operator.public, origin=ORIGIN).size == 4
    assert open_checkpoint(cosigned, verifier_key(ORIGIN, operator.public)).size == 4
    later = cosign(
        cosigned,
        name="inspectie.example/w1",
        private=witness.private,
        public=witness.public,
        at=AT + timedelta(hours=1),
    )
    assert cosignatures(later, wkey) == [AT, AT + timedelta(hours=1)]


def test_an_altered_cosigned_note_or_timestamp_fails() -> None:
    """Changing the body, or the timestamp in the cosignature, breaks the cosignature."""
    _, note = _checkpoint(size=4)
    witness = CheckpointKey.generate()
    wkey = verifier_key("w.example", witness.public, kind=COSIGNATURE_ED25519)
    cosigned = cosign(note, name="w.example", private=witness.private, public=witness.public, at=AT)
    body, _, sigs = cosigned.partition("\n\n")
    tampered = body.replace("\n4\n", "\n5\n") + "\n\n" + sigs
    with pytest.raises(ValueError, match=r"the cosignature of w\.example does not verify"):
        cosignatures(tampered, wkey)
    line = cosigned.splitlines()[-1]
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[11] ^= 1  # one second later
    shifted = cosigned.replace(line, f"— w.example {base64.b64encode(bytes(raw)).decode()}")
    with pytest.raises(ValueError, match="does not verify"):
        cosignatures(shifted, wkey)


def test_cosign_refuses_a_time_without_zone_and_a_bad_name() -> None:
    """A cosignature's time is POSIX seconds: it needs a timezone; names follow the vkey rules."""
    _, note = _checkpoint()
    witness = CheckpointKey.generate()
    with pytest.raises(ValueError, match="needs a timezone"):
        cosign(
            note,
            name="w",
            private=witness.private,
            public=witness.public,
            at=datetime(2026, 3, 2),  # noqa: DTZ001 - on purpose
        )
    with pytest.raises(ValueError, match="plus sign"):
        cosign(note, name="w+1", private=witness.private, public=witness.public, at=AT)


def test_a_checkpoint_signed_under_another_name_than_its_origin_is_refused() -> None:
    """tlog-checkpoint: the log's key name is its origin; a key of another name vouches for
    nothing about this origin."""
    key = CheckpointKey.generate()
    body = f"{ORIGIN}\n1\n{base64.b64encode(bytes(32)).decode()}\n"
    signature = note_key_id("other.example/log", key.public) + ed25519_sign(
        key.private, body.encode()
    )
    note = f"{body}\n— other.example/log {base64.b64encode(signature).decode()}\n"
    assert verify_note(note, verifier_key("other.example/log", key.public)).text == body
    with pytest.raises(ValueError, match=r"is of origin 'phasedcare/ijsselland', not of"):
        open_checkpoint(note, verifier_key("other.example/log", key.public))
