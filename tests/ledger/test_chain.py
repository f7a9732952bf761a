"""The canonical header and leaf hashes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from phasedcare.ledger.chain import GENESIS, canonical_header, leaf_hash
from phasedcare.ledger.records import RecordHeader

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@given(
    case_id=st.text(max_size=20),
    event_type=st.text(max_size=20),
    key_id=st.text(max_size=3),
    sequence=st.integers(1, 10**9),
)
def test_the_fast_canonical_form_is_exactly_json(
    case_id: str, event_type: str, key_id: str, sequence: int
) -> None:
    """Whatever the texts, the header's bytes are the compact ASCII JSON array."""
    header = RecordHeader(case_id, sequence, event_type, 1, AT, key_id)
    fields = [
        "phasedcare-record-v1",
        case_id,
        sequence,
        event_type,
        1,
        AT.isoformat(timespec="microseconds"),
        key_id,
    ]
    assert (
        canonical_header(header)
        == json.dumps(fields, separators=(",", ":"), ensure_ascii=True).encode()
    )


def test_a_leaf_covers_header_payload_and_previous_leaf() -> None:
    """Changing any of the three changes the leaf; the parts cannot slide into each other."""
    header = RecordHeader("c-1", 1, "CaseOpened", 1, AT, "1")
    base = leaf_hash(header, b"sealed", GENESIS)
    assert len(base) == 32
    assert leaf_hash(RecordHeader("c-1", 2, "CaseOpened", 1, AT, "1"), b"sealed", GENESIS) != base
    assert leaf_hash(header, b"sealee", GENESIS) != base
    assert leaf_hash(header, b"sealed", b"\x01" * 32) != base
    assert leaf_hash(header, b"sealed" + GENESIS[:1], GENESIS[1:] + b"\x00") != base
