"""Webhook subscriptions: an organisation's endpoint and its signing secret.

The secret is shown once, when the subscription is made (or rotated), and stored only
wrapped by a key-encryption key from the key provider, which lives outside the database.
Only an organisation's ``integration_admin`` makes, rotates and ends its subscriptions, up to
the policy's cap of active ones; its professionals may read them and their deliveries. The
URL is checked when the subscription is made (:mod:`phasedcare.service.webhook_targets`) and
again before every delivery, through :meth:`WebhookSubscriptions.target`.

Every refusal (a role that may not, an internal URL, the cap, another organisation's
subscription) is an entry in the engine's access log, on the caseload's stream, as the other
doors record theirs: the engine uses :meth:`WebhookSubscriptions.recording_refusals`. What is
allowed is not logged: subscriptions hold no case data.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from phasedcare.domain.actors import Actor
from phasedcare.domain.policy import RegionalPolicy
from phasedcare.errors import InvalidInput, NotAuthorised, NotFound, Refused
from phasedcare.ledger.keys import KeyProvider
from phasedcare.service.access import AccessLog
from phasedcare.service.authorisation import authorise_webhooks
from phasedcare.service.ports import Delivery, DeliveryCursor, NotificationStore, Subscription
from phasedcare.service.webhook_targets import (
    Resolver,
    WebhookTarget,
    WebhookTargets,
    system_resolver,
)
from phasedcare.service.webhooks import new_secret

__all__ = ["ROTATION_GRACE", "WebhookSubscriptions"]

ROTATION_GRACE = timedelta(hours=24)
"""How long a rotated-out secret still signs deliveries (receivers switch in that time)."""


def _context(subscription_id: str) -> bytes:
    return f"phasedcare webhook secret {subscription_id}".encode()


class WebhookSubscriptions:
    """Create, list and end subscriptions; unwrap a secret to sign a delivery."""

    def __init__(
        self,
        *,
        store: NotificationStore,
        keys: KeyProvider,
        policy: RegionalPolicy,
        clock: Callable[[], datetime],
        allow_loopback: bool = False,
        resolver: Resolver = system_resolver,
        access: AccessLog | None = None,
    ) -> None:
        self._store = store
        self._keys = keys
        self._policy = policy
        self._clock = clock
        self._allow_loopback = allow_loopback
        self._resolver = resolver
        self._access = access
        self._targets = WebhookTargets(
            allow_loopback=allow_loopback, ports=policy.webhooks.ports, resolver=resolver
        )

    def recording_refusals(self, access: AccessLog) -> WebhookSubscriptions:
        """These subscriptions, with every refusal recorded in ``access`` (the engine's log)."""
        return WebhookSubscriptions(
            store=self._store,
            keys=self._keys,
            policy=self._policy,
            clock=self._clock,
            allow_loopback=self._allow_loopback,
            resolver=self._resolver,
            access=access,
        )

    @contextmanager
    def _door(self, actor: Actor, query: str, *, changes: bool) -> Iterator[None]:
        """Record a refusal of ``query`` in the access log on the caseload's stream (no case is
        involved): a refused command when it ``changes`` a subscription, else a denied read."""
        try:
            yield
        except (NotAuthorised, NotFound, InvalidInput, Refused) as exc:
            if self._access is not None and changes:
                self._access.refusal(actor, None, query, exc)
            elif self._access is not None:
                self._access.denial(actor, None, query, exc)
            raise

    def target(self, url: str) -> WebhookTarget:
        """Check ``url`` now (resolving its host) and return the address to connect to.

        Raises:
            TargetRefused: the URL may not receive webhooks, with the reason.
        """
        return self._targets.check(url)

    def subscribe(self, *, actor: Actor, url: str) -> tuple[Subscription, str]:
        """Subscribe the actor's organisation at ``url``; returns it and its secret (shown once).

        Raises:
            NotAuthorised: the actor is not the organisation's integration_admin.
            TargetRefused: the URL may not receive webhooks, with the reason.
            Refused: the organisation has the policy's maximum of active subscriptions.
        """
        with self._door(actor, "subscribe_webhook", changes=True):
            authorise_webhooks(actor, self._policy, manage=True)
            self.target(url)
            self._check_cap(actor.organisation)
        subscription_id = f"sub_{uuid.uuid4().hex[:16]}"
        secret = new_secret()
        kek_id = self._keys.current_kek_id()
        wrapped = self._keys.wrap(kek_id, secret.encode("ascii"), _context(subscription_id))
        subscription = Subscription(
            subscription_id=subscription_id,
            organisation=actor.organisation,
            url=url,
            kek_id=kek_id,
            wrapped_secret=wrapped,
            active=True,
            created_at=self._clock().astimezone(UTC),
        )
        self._store.add_subscription(subscription)
        return subscription, secret

    def _check_cap(self, organisation: str) -> None:
        cap = self._policy.webhooks.max_subscriptions_per_organisation
        active = [s for s in self._store.subscriptions(organisation=organisation) if s.active]
        if len(active) >= cap:
            msg = (
                f"{organisation} has {len(active)} active webhook subscriptions, the most the "
                f"policy allows ({cap}); end one before subscribing another"
            )
            raise Refused(msg, case_id=None, rule="webhook_subscription_cap")

    def list(self, *, actor: Actor) -> list[Subscription]:
        """The actor's organisation's subscriptions."""
        with self._door(actor, "list_webhooks", changes=False):
            return self._subscriptions_of(actor)

    def _subscriptions_of(self, actor: Actor) -> builtins.list[Subscription]:
        authorise_webhooks(actor, self._policy, manage=False)
        return self._store.subscriptions(organisation=actor.organisation)

    def deliveries(
        self,
        *,
        actor: Actor,
        status: str | None = None,
        after: DeliveryCursor | None = None,
        limit: int | None = None,
    ) -> builtins.list[Delivery]:
        """Deliveries to the actor's organisation's subscriptions, newest first (ids, statuses
        and our own error words, never a body); a page of ``limit`` after the cursor."""
        with self._door(actor, "webhook_deliveries", changes=False):
            own = [s.subscription_id for s in self._subscriptions_of(actor)]
        return self._store.deliveries(status=status, subscriptions=own, after=after, limit=limit)

    def rotate(self, *, actor: Actor, subscription_id: str) -> tuple[Subscription, str]:
        """A new signing secret (shown once); deliveries carry both signatures for a day."""
        with self._door(actor, "rotate_webhook_secret", changes=True):
            authorise_webhooks(actor, self._policy, manage=True)
            self._owned(actor, subscription_id)
        secret = new_secret()
        kek_id = self._keys.current_kek_id()
        wrapped = self._keys.wrap(kek_id, secret.encode("ascii"), _context(subscription_id))
        until = self._clock().astimezone(UTC) + ROTATION_GRACE
        self._store.rotate_subscription_secret(
            subscription_id, kek_id=kek_id, wrapped_secret=wrapped, previous_until=until
        )
        return self._owned(actor, subscription_id), secret

    def _owned(self, actor: Actor, subscription_id: str) -> Subscription:
        found = [s for s in self._subscriptions_of(actor) if s.subscription_id == subscription_id]
        if not found or not found[0].active:
            msg = f"{actor.organisation} has no active webhook subscription {subscription_id}"
            raise NotFound(msg, kind="subscription", ident=subscription_id)
        return found[0]

    def unsubscribe(self, *, actor: Actor, subscription_id: str) -> None:
        """End a subscription of the actor's organisation; its pending deliveries end."""
        with self._door(actor, "unsubscribe_webhook", changes=True):
            authorise_webhooks(actor, self._policy, manage=True)
            owned = {s.subscription_id for s in self._subscriptions_of(actor)}
            if subscription_id not in owned:
                msg = f"{actor.organisation} has no webhook subscription {subscription_id}"
                raise NotFound(msg, kind="subscription", ident=subscription_id)
        self._store.deactivate_subscription(subscription_id)

    def secrets(self, subscription: Subscription) -> builtins.list[str]:
        """The secrets to sign one delivery with, unwrapped in memory: the current one, and
        the previous one while its grace period after a rotation lasts."""
        context = _context(subscription.subscription_id)
        found = [self._keys.unwrap(subscription.kek_id, subscription.wrapped_secret, context)]
        previous = subscription.wrapped_previous_secret
        until = subscription.previous_until
        if previous and subscription.previous_kek_id and until and self._clock() < until:
            found.append(self._keys.unwrap(subscription.previous_kek_id, previous, context))
        return [plain.decode("ascii") for plain in found]
