"""Break-glass across cases: which cases one professional broke the glass on today.

Each use leaves a token in the store's index pointing at its case, as a member's name does
for the known-household lookup: an HMAC of the actor and the region's date under the engine's
request-digest key (kept in the key folder, with the blind index), so the database names no
one's break-glass day in clear, and the index's name tokens (under the index key itself) and
these never meet. The engine finds the cases of a day with one index lookup, and the domain
refuses a use on one case more than the policy's ``break_glass.max_cases_per_day``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from phasedcare.domain import events as ev
from phasedcare.domain.actors import Actor
from phasedcare.domain.policy import RegionalPolicy
from phasedcare.ledger.blind_index import BlindIndex

__all__ = ["break_glass_day_token", "break_glass_tokens"]

_LABEL = "phasedcare-break-glass-day-v1"  # no request text starts so: those start "POST "


def break_glass_day_token(requests: BlindIndex, actor: Actor | str, day: date) -> bytes:
    """The token of ``actor``'s break-glass uses on ``day`` (the region's date)."""
    text = f"{_LABEL}\n{actor}\n{day.isoformat()}".encode()
    return bytes.fromhex(requests.request_digest(text))


def break_glass_tokens(
    requests: BlindIndex, policy: RegionalPolicy, events: Iterable[ev.DomainEvent]
) -> list[bytes]:
    """The day tokens of the break-glass uses among ``events``."""
    return [
        break_glass_day_token(requests, e.actor, policy.local_date(e.at))
        for e in events
        if isinstance(e, ev.BreakGlassUsed)
    ]
