"""The witness's judgement, without HTTP: checkpoints signed here, proofs made or broken here."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest

from phasedcare.errors import InvalidInput
from phasedcare.ledger.checkpoints import sign_checkpoint
from phasedcare.ledger.keys import CheckpointKey
from phasedcare.ledger.merkle import consistency_proof, root
from phasedcare.ledger.notes import COSIGNATURE_ED25519, cosignatures, verifier_key
from phasedcare.service.witnessing import WitnessRefused, WitnessState, parse_proof

ORIGIN = "phasedcare/ijsselland"
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY = CheckpointKey.generate()
VKEY = verifier_key(ORIGIN, KEY.public)


def _leaves(n: int, salt: int = 0) -> list[bytes]:
    """``n`` distinct 32-byte leaves; another ``salt`` makes another tree of the same size."""
    return [(bytes([salt]) + i.to_bytes(4, "big")).ljust(32, b"\x00") for i in range(n)]


def _note(leaves: list[bytes], key: CheckpointKey = KEY, origin: str = ORIGIN) -> str:
    return sign_checkpoint(
        origin=origin, size=len(leaves), root=root(leaves), at=AT,
        private=key.private, public=key.public,
    )  # fmt: skip


def _proof_text(leaves: list[bytes], old: int) -> str:
    return "".join(f"{base64.b64encode(n).decode()}\n" for n in consistency_proof(leaves, old))


@pytest.fixture
def state(tmp_path: Path) -> WitnessState:
    return WitnessState.create(tmp_path / "w", name="inspectie.example/w1")


def _add(state: WitnessState, note: str, proof: str | None = None, vkey: str = VKEY) -> str:
    result = state.add_checkpoint(note, vkey=vkey, fetch_proof=lambda _old, _new: proof, at=AT)
    return result.outcome


def test_the_first_checkpoint_is_kept_and_the_next_needs_a_proof(state: WitnessState) -> None:
    """Accepted with no proof first; then only with a proof that verifies; cosigned each time."""
    leaves = _leaves(10)
    assert _add(state, _note(leaves[:4])) == "new"
    assert _add(state, _note(leaves), _proof_text(leaves, 4)) == "new"
    wkey = verifier_key("inspectie.example/w1", state.public, kind=COSIGNATURE_ED25519)
    folder = state.log_folder(ORIGIN)
    cosigned = sorted(folder.glob("cosigned-*.note"))
    assert [p.name for p in cosigned] == [
        "cosigned-00000000000000000004.note",
        "cosigned-00000000000000000010.note",
    ]
    assert all(cosignatures(p.read_text(encoding="utf-8"), wkey) == [AT] for p in cosigned)
    assert [s.size for s in state.statuses()] == [10]


def test_the_same_size_with_another_root_is_a_fork_kept_as_evidence(state: WitnessState) -> None:
    """Two signed trees of one size: the operator signed a split view; both notes are kept."""
    assert _add(state, _note(_leaves(5))) == "new"
    other = _note(_leaves(5, salt=9))
    result = state.add_checkpoint(other, vkey=VKEY, fetch_proof=lambda _o, _n: None, at=AT)
    assert result.outcome == "fork"
    assert result.detail.startswith("FORK: the witness holds a checkpoint of 5 records with root")
    assert result.evidence is not None
    assert (result.evidence / "served.note").read_text(encoding="utf-8") == other
    assert (result.evidence / "held.note").read_text(encoding="utf-8") == _note(_leaves(5))
    assert _add(state, _note(_leaves(5))) == "unchanged"


def test_a_proof_that_does_not_verify_is_a_fork_and_nothing_is_cosigned(
    state: WitnessState,
) -> None:
    """A larger tree that does not extend the held one: its proof fails, it is not kept."""
    assert _add(state, _note(_leaves(4))) == "new"
    forked = _leaves(8, salt=3)
    assert _add(state, _note(forked), _proof_text(forked, 4)) == "fork"
    assert _add(state, _note(forked), "not base64!\n") == "unproven"
    assert _add(state, _note(forked), None) == "unproven"
    folder = state.log_folder(ORIGIN)
    assert [p.name for p in folder.glob("checkpoint-*.note")] == [
        "checkpoint-00000000000000000004.note"
    ]
    (status,) = state.statuses()
    assert (status.size, len(status.evidence)) == (4, 3)
    kinds = sorted("fork" if "-fork" in e else "unproven" for e in status.evidence)
    assert kinds == ["fork", "unproven", "unproven"]


def test_a_smaller_tree_is_a_rollback(state: WitnessState) -> None:
    """Fewer records than held, validly signed: the operator went back; nothing is cosigned."""
    leaves = _leaves(6)
    assert _add(state, _note(leaves)) == "new"
    result = state.add_checkpoint(
        _note(leaves[:3]), vkey=VKEY, fetch_proof=lambda _o, _n: None, at=AT
    )
    assert (result.outcome, result.consistent) == ("rollback", False)
    assert result.detail == (
        "ROLLBACK: the witness holds a checkpoint of 6 records, but was served one of 3"
    )


def test_a_note_of_another_key_or_origin_is_refused_and_the_first_key_is_pinned(
    state: WitnessState,
) -> None:
    """Unsigned text proves nothing (refused, not evidence); the log's key cannot change."""
    stranger = CheckpointKey.generate()
    with pytest.raises(WitnessRefused, match="carries no signature of phasedcare/ijsselland"):
        _add(state, _note(_leaves(2), key=stranger))
    elders = sign_checkpoint(
        origin="phasedcare/elders", size=2, root=root(_leaves(2)), at=AT,
        private=KEY.private, public=KEY.public,
    )  # fmt: skip
    with pytest.raises(WitnessRefused, match="carries no signature of phasedcare/ijsselland"):
        _add(state, elders)  # signed under the other origin's key name
    assert _add(state, _note(_leaves(2))) == "new"
    with pytest.raises(WitnessRefused, match="a changed operator key needs a new state folder"):
        _add(state, _note(_leaves(3), key=stranger), vkey=verifier_key(ORIGIN, stranger.public))


def test_a_state_folder_is_made_once_and_read_back(tmp_path: Path) -> None:
    """init refuses an existing witness and a name verifiers could not read."""
    made = WitnessState.create(tmp_path / "w", name="w.example")
    assert WitnessState(tmp_path / "w").vkey == made.vkey
    with pytest.raises(InvalidInput, match="holds a witness already"):
        WitnessState.create(tmp_path / "w", name="w.example")
    with pytest.raises(InvalidInput, match="plus sign"):
        WitnessState.create(tmp_path / "v", name="w+1")


def test_proof_lines_are_base64_hashes() -> None:
    """One standard-base64 SHA-256 hash per line, at most 63 (tlog-witness)."""
    node = bytes(range(32))
    assert parse_proof(base64.b64encode(node).decode() + "\n") == [node]
    assert parse_proof("") == []
    with pytest.raises(ValueError, match="is not a SHA-256 hash"):
        parse_proof("AAAA\n")
    with pytest.raises(ValueError, match="at most 63 hashes"):
        parse_proof((base64.b64encode(node).decode() + "\n") * 64)
