"""Helpers for people testing code that embeds phasedcare: a manual clock and an engine in memory.

>>> from phasedcare.testing import ManualClock, memory_engine
>>> clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
>>> engine = memory_engine(clock=clock)
>>> clock.advance(days=3)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.policy import RegionalPolicy, default_policy
from phasedcare.ledger.blind_index import BlindIndex
from phasedcare.ledger.codec import RecordCodec
from phasedcare.ledger.keys import CaseKeys, CheckpointKey, InMemoryKeyProvider
from phasedcare.service.audit import Auditor
from phasedcare.service.engine import Engine, utc_now
from phasedcare.service.subscriptions import WebhookSubscriptions
from phasedcare.service.webhook_targets import Resolver, system_resolver
from phasedcare.store.memory import InMemoryEventStore

__all__ = ["ManualClock", "actor_of", "memory_engine"]


@dataclass
class ManualClock:
    """A clock that moves only when told to, so tests and demos can let months pass."""

    now: datetime

    @classmethod
    def starting(cls, iso: str) -> ManualClock:
        """A clock at the given ISO time (must carry a timezone)."""
        moment = datetime.fromisoformat(iso)
        if moment.tzinfo is None:
            msg = f"{iso!r} has no timezone"
            raise ValueError(msg)
        return cls(moment)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, *, days: int = 0, hours: int = 0) -> None:
        """Move the clock forward."""
        self.now += timedelta(days=days, hours=hours)

    @property
    def today(self) -> date:
        """The clock's date."""
        return self.now.date()


def memory_engine(
    *,
    policy: RegionalPolicy | None = None,
    clock: ManualClock | None = None,
    allow_loopback: bool = True,
    resolver: Resolver = system_resolver,
    store: InMemoryEventStore | None = None,
) -> Engine:
    """An engine over the in-memory store (keys in memory too) with the default policy.

    Webhooks may go to loopback (a local receiver) unless ``allow_loopback`` is off; pass a
    ``resolver`` to answer webhook host lookups without DNS, and a ``store`` (an empty
    in-memory store, or a subclass that counts or fails) to watch what the engine asks of it.
    """
    store = store if store is not None else InMemoryEventStore()
    provider = InMemoryKeyProvider()
    key = CheckpointKey.generate()
    codec = RecordCodec(keys=CaseKeys(store, provider), signer=key)
    policy = policy or default_policy()
    auditor = Auditor(
        store=store,
        key=key,
        origin="phasedcare/test",
        witness=None,
        clock=clock or utc_now,
        authenticate=codec.authentic,
    )
    webhooks = WebhookSubscriptions(
        store=store,
        keys=provider,
        policy=policy,
        clock=clock or utc_now,
        allow_loopback=allow_loopback,
        resolver=resolver,
    )
    return Engine(
        store=store,
        policy=policy,
        codec=codec,
        auditor=auditor,
        clock=clock or utc_now,
        blind_index=BlindIndex.generate(),
        webhooks=webhooks,
    )


def actor_of(
    organisation: str, *, user: str | None = None, role: Role = Role.professional
) -> Actor:
    """An actor of ``organisation`` (a synthetic user id when none is given)."""
    return Actor(user=user or f"u-{organisation}", organisation=organisation, role=role)
