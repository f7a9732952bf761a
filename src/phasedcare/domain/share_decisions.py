"""Decisions about who else may read a case: shares with a legal basis and an expiry date,
break-glass uses and their review by Veilig Thuis."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from phasedcare.domain import commands as cmd
from phasedcare.domain import events as ev
from phasedcare.domain.case import BreakGlassUse, CaseState, Share
from phasedcare.domain.context import DecisionContext
from phasedcare.domain.deciding import envelope
from phasedcare.errors import InvalidInput, NotFound, Refused

__all__ = [
    "BREAK_GLASS_MIN_DIFFERENT_LETTERS",
    "BREAK_GLASS_MIN_LETTERS",
    "MAX_SHARE_DAYS",
    "ReviewTask",
    "break_glass_reason",
    "grant_share",
    "real_reason",
    "review_break_glass",
    "review_task",
    "revoke_share",
    "use_break_glass",
]

MAX_SHARE_DAYS = 366
"""A share lasts at most this many days; a longer need is granted again, on its own basis."""

BREAK_GLASS_MIN_LETTERS = 10
"""A break-glass reason holds at least this many letters: a word is not a reason."""

BREAK_GLASS_MIN_DIFFERENT_LETTERS = 4
"""...of which at least this many differ: ``aaaaaaaaaa`` is no reason either."""

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_WHITE_CONTROLS = frozenset("\n\t")


@dataclass(frozen=True, slots=True)
class ReviewTask:
    """An unreviewed break-glass use: ids, who and when, and when the review is due."""

    case_id: str
    review_id: str
    used_by: str
    used_at: datetime
    due: date
    escalated: bool


def review_task(case_id: str, use: BreakGlassUse, *, due: date, escalated: bool) -> ReviewTask:
    """The review task of one break-glass use (never its reason)."""
    return ReviewTask(case_id, use.review_id, use.used_by, use.used_at, due, escalated)


def _refuse(case: CaseState, message: str, rule: str) -> Refused:
    return Refused(message, case_id=case.case_id, rule=rule)


def _share_receiver(case: CaseState, to_organisation: str, ctx: DecisionContext) -> str:
    receiver = ctx.policy.organisation(to_organisation).id
    if receiver == ctx.actor.organisation:
        raise _refuse(case, f"{receiver} cannot share a case with itself", "share_to_self")
    if receiver == case.regie.organisation:
        raise _refuse(case, f"{receiver} holds regie and reads the case already", "share_to_self")
    current = [
        s for s in case.shares.values() if s.to_organisation == receiver and s.active_on(ctx.today)
    ]
    if current:
        share = current[0]
        why = f"share {share.share_id} to {receiver} is active until {share.expires_on}"
        raise _refuse(case, why, "share_exists")
    return receiver


def _check_expiry(case: CaseState, expires_on: date, ctx: DecisionContext) -> None:
    if expires_on < ctx.today:
        why = f"the expiry date {expires_on} lies in the past (today is {ctx.today})"
        raise _refuse(case, why, "share_expiry_in_past")
    latest = ctx.today + timedelta(days=MAX_SHARE_DAYS)
    if expires_on > latest:
        why = f"a share lasts at most {MAX_SHARE_DAYS} days: until {latest}, not {expires_on}"
        raise _refuse(case, why, "share_too_long")


def grant_share(
    case: CaseState, command: cmd.GrantShare, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Grant another organisation read access on a legal basis until a date (s1, s2, ...)."""
    receiver = _share_receiver(case, command.to_organisation, ctx)
    _check_expiry(case, command.expires_on, ctx)
    return [
        ev.ShareGranted(
            **envelope(case, ctx),
            share_id=f"s{len(case.shares) + 1}",
            from_organisation=ctx.actor.organisation,
            to_organisation=receiver,
            legal_basis=command.legal_basis,
            expires_on=command.expires_on,
        )
    ]


def _share(case: CaseState, share_id: str) -> Share:
    share = case.shares.get(share_id)
    if share is None:
        raise NotFound(f"case {case.case_id} has no share {share_id}", kind="share", ident=share_id)
    return share


def revoke_share(
    case: CaseState, command: cmd.RevokeShare, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Revoke a share that is still active."""
    share = _share(case, command.share_id)
    if share.revoked_at is not None:
        why = f"share {share.share_id} was revoked on {ctx.policy.local_date(share.revoked_at)}"
        raise _refuse(case, why, "share_revoked")
    if not share.active_on(ctx.today):
        raise _refuse(
            case, f"share {share.share_id} expired on {share.expires_on}", "share_expired"
        )
    return [ev.ShareRevoked(**envelope(case, ctx), share_id=share.share_id)]


def break_glass_reason(reason: str) -> str:
    """The reason, stripped, when it is text a reviewer can judge; InvalidInput when not
    (:func:`real_reason`)."""
    return real_reason(reason, "a break-glass reason", "say why the emergency access is needed")


def real_reason(reason: str, what: str, hint: str) -> str:
    """The reason, stripped, when it is text a reader can judge; InvalidInput when not.

    Only letters count (``str.isalpha``, any script): spaces, digits, punctuation and
    zero-width or other format characters do not. Control characters (newline and tab aside)
    and bidirectional overrides are no part of a reason and refuse it outright. ``what``
    names the reason in the refusal (``a break-glass reason``), ``hint`` says what to write.
    """
    unprintable = [
        c
        for c in reason
        if c in _BIDI_CONTROLS or (unicodedata.category(c) == "Cc" and c not in _WHITE_CONTROLS)
    ]
    letters = [c.casefold() for c in reason if c.isalpha()]
    if unprintable:
        why = f"{what} is text: it holds control or bidirectional characters"
    elif len(letters) < BREAK_GLASS_MIN_LETTERS:
        why = f"{what} needs at least {BREAK_GLASS_MIN_LETTERS} letters"
    elif len(set(letters)) < BREAK_GLASS_MIN_DIFFERENT_LETTERS:
        why = f"{what} needs at least {BREAK_GLASS_MIN_DIFFERENT_LETTERS} different letters: {hint}"
    else:
        return reason.strip()
    raise InvalidInput(why, field="reason")


def _check_break_glass_limit(case: CaseState, ctx: DecisionContext) -> None:
    """Refuse a use beyond the policy's maximum per actor and case in the period, saying
    from when the glass may be broken again."""
    limit = ctx.policy.break_glass
    period = timedelta(hours=limit.period_hours)
    actor = str(ctx.actor)
    counted = sorted(
        u.used_at
        for u in case.break_glass.values()
        if u.used_by == actor and u.used_at > ctx.now - period
    )
    if len(counted) < limit.max_uses_per_case:
        return
    again = counted[len(counted) - limit.max_uses_per_case] + period
    why = (
        f"{actor} broke the glass on case {case.case_id} {len(counted)} time(s) in the last "
        f"{limit.period_hours} hours, the most the policy allows; it may be broken again "
        f"from {again.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    )
    raise _refuse(case, why, "break_glass_limit")


def _check_cases_today(case: CaseState, ctx: DecisionContext, others: Collection[str]) -> None:
    """Refuse a use on one more case than the policy allows one actor in a day."""
    limit = ctx.policy.break_glass.max_cases_per_day
    if len(others) < limit:
        return
    why = (
        f"{ctx.actor} broke the glass on {len(others)} other case(s) today ({ctx.today}), the "
        f"most the policy allows one professional in a day (break_glass.max_cases_per_day: "
        f"{limit}); Veilig Thuis reviews each use; it may be broken on another case from "
        "tomorrow"
    )
    raise _refuse(case, why, "break_glass_daily_limit")


def use_break_glass(
    case: CaseState, reason: str, ctx: DecisionContext, *, other_cases_today: Collection[str] = ()
) -> list[ev.DomainEvent]:
    """Record a break-glass use (bg1, bg2, ...) with its sealed reason; it awaits review.

    ``other_cases_today`` are the other cases the actor broke the glass on today (the
    region's date), which the service finds in its store.

    Raises:
        InvalidInput: the reason is no real text (:func:`break_glass_reason`).
        Refused: the actor used the glass on this case as often as the policy allows in its
            period (rule ``break_glass_limit``), or on as many other cases today as it
            allows in a day (rule ``break_glass_daily_limit``).
    """
    text = break_glass_reason(reason)
    _check_break_glass_limit(case, ctx)
    _check_cases_today(case, ctx, other_cases_today)
    return [
        ev.BreakGlassUsed(
            **envelope(case, ctx),
            review_id=f"bg{len(case.break_glass) + 1}",
            reason=text,
        )
    ]


def review_break_glass(
    case: CaseState, command: cmd.ReviewBreakGlass, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Judge a break-glass use justified or unjustified, once; this closes its review."""
    use = case.break_glass.get(command.review_id)
    if use is None:
        raise NotFound(
            f"case {case.case_id} has no break-glass use {command.review_id}",
            kind="break-glass use",
            ident=command.review_id,
        )
    if use.outcome is not None:
        why = f"break-glass use {use.review_id} was reviewed already ({use.outcome})"
        raise _refuse(case, why, "already_reviewed")
    return [
        ev.BreakGlassReviewed(
            **envelope(case, ctx),
            review_id=use.review_id,
            outcome=command.outcome,
            note=command.note,
        )
    ]
