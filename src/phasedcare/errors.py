"""The one exception tree of phasedcare.

Every error the engine raises on purpose derives from :class:`PhasedCareError` and carries
structured attributes, so that the CLI and the HTTP API can pass the reason through unchanged::

    PhasedCareError
    ├── InvalidInput              bad input at a boundary (CLI argument, policy file, payload)
    │   ├── PolicyError           a regional policy file that does not validate
    │   ├── SignatureInvalid      a webhook whose signature, id or timestamp does not verify
    │   └── TargetRefused         a webhook URL whose host phasedcare will not connect to
    ├── NotFound                  an unknown case, member, condition or organisation
    │   └── Erased                a case whose data key was destroyed under retention
    ├── Refused                   the domain refused a command; ``rule`` names what failed
    │   └── TransitionRefused     a statechart event that is not allowed now
    ├── NotAuthorised             the actor may not do this
    ├── ConcurrencyConflict       another writer appended to the case first
    │   └── StaleVersion          the caller's version of the case (If-Match) is not current
    └── StoreError                the storage backend failed (driver errors translated)
        └── NotAuthentic          a record the engine did not write (tampering): not retried

Messages never contain personal data: they name ids, phases, rules and dates only.
"""

from __future__ import annotations

__all__ = [
    "ConcurrencyConflict",
    "Erased",
    "InvalidInput",
    "NotAuthentic",
    "NotAuthorised",
    "NotFound",
    "PhasedCareError",
    "PolicyError",
    "Refused",
    "SignatureInvalid",
    "StaleVersion",
    "StoreError",
    "TargetRefused",
    "TransitionRefused",
]


class PhasedCareError(Exception):
    """Root of every error phasedcare raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(PhasedCareError):
    """Input at a boundary does not validate; ``field`` names the offending part when known."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PolicyError(InvalidInput):
    """A regional policy file does not validate; ``line`` is 1-based when known."""

    def __init__(
        self, message: str, *, source: str, field: str | None = None, line: int | None = None
    ) -> None:
        super().__init__(message, field=field)
        self.source = source
        self.line = line


class SignatureInvalid(InvalidInput):
    """A webhook's Standard Webhooks signature, id or timestamp does not verify."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="webhook-signature")


class TargetRefused(InvalidInput):
    """A webhook URL phasedcare will not connect to (an internal host, a port not allowed).

    Attributes:
        transient: the host did not resolve; the same URL may be fine later.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message, field="url")
        self.transient = transient


class NotFound(PhasedCareError):
    """Something named by id does not exist."""

    def __init__(self, message: str, *, kind: str, ident: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.ident = ident


class Erased(NotFound):
    """The case's data key was destroyed under retention: its events can no longer be read."""

    def __init__(self, *, case_id: str, erased_on: str, rule: str) -> None:
        super().__init__(
            f"case {case_id} was erased on {erased_on} under retention rule {rule}: its events "
            "can no longer be read (the ledger still verifies)",
            kind="case",
            ident=case_id,
        )
        self.erased_on = erased_on
        self.rule = rule


class Refused(PhasedCareError):
    """The domain refused a command; nothing was written.

    Attributes:
        case_id: the case the command was for.
        rule: a short, stable identifier of the rule that failed (for programs).
        reason: the sentence a professional reads.
    """

    def __init__(self, reason: str, *, case_id: str | None, rule: str) -> None:
        super().__init__(reason)
        self.case_id = case_id
        self.rule = rule
        self.reason = reason


class TransitionRefused(Refused):
    """A statechart event is not allowed now; ``reasons`` lists every rule that failed."""

    def __init__(
        self,
        *,
        case_id: str | None,
        chart: str,
        event: str,
        state: str,
        reasons: list[tuple[str, str]],
    ) -> None:
        rule, _ = reasons[0]
        text = "; ".join(reason for _, reason in reasons)
        super().__init__(f"{event} refused in {state}: {text}", case_id=case_id, rule=rule)
        self.chart = chart
        self.event = event
        self.state = state
        self.reasons = reasons


class NotAuthorised(PhasedCareError):
    """The actor may not perform this command or read this case."""

    def __init__(self, message: str, *, actor: str, case_id: str | None = None) -> None:
        super().__init__(message)
        self.actor = actor
        self.case_id = case_id


class ConcurrencyConflict(PhasedCareError):
    """Another writer appended to the case since it was loaded; reload and retry."""

    def __init__(self, *, case_id: str, expected: int, actual: int | None = None) -> None:
        found = "" if actual is None else f", found {actual}"
        super().__init__(
            f"case {case_id} changed concurrently: expected sequence {expected}{found}; "
            "reload the case and try again"
        )
        self.case_id = case_id
        self.expected = expected
        self.actual = actual


class StaleVersion(ConcurrencyConflict):
    """The command was made for a version of the case that is no longer current."""


class StoreError(PhasedCareError):
    """The storage backend failed; the driver's message is kept in ``detail``."""

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class NotAuthentic(StoreError):
    """A record fails the ledger's authenticity checks: written by someone without the keys
    (an unsealed record, a forged tombstone, a payload that does not open) or a case whose
    data key was removed outside the engine. Nothing is read or written; a retry cannot
    help: an auditor runs ``phasedcare audit verify``.
    """

    def __init__(self, message: str, *, case_id: str) -> None:
        super().__init__(message)
        self.case_id = case_id
