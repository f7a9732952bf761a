"""Webhook subscriptions: an organisation's endpoint and its signing secret.

The secret is shown once, when the subscription is made (or rotated), and stored only
wrapped by a key-encryption key from the key provider, which lives outside the database.
Only an organisation's ``integration_admin`` makes, rotates and ends its subscriptions, up to
the policy's cap of active ones; its professionals may read them and their deliveries. The
URL is checked when the subscription is made (:mod:`phasedcare.service.webhook_targets`) and
again before every delivery, through :meth:`WebhookSubscriptions.target`.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from phasedcare.domain.actors import Actor
from phasedcare.domain.policy import RegionalPolicy
from phasedcare.errors import NotFound, Refused
from phasedcare.ledger.keys import KeyProvider
from phasedcare.service.authorisation import authorise_webhooks
from phasedcare.service.ports import NotificationStore, Subscription
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
    ) -> None:
        self._store = store
        self._keys = keys
        self._policy = policy
        self._clock = clock
        self._targets = WebhookTargets(
            allow_loopback=allow_loopback, ports=policy.webhooks.ports, resolver=resolver
        )

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
        authorise_webhooks(actor, self._policy, manage=False)
        return self._store.subscriptions(organisation=actor.organisation)

    def rotate(self, *, actor: Actor, subscription_id: str) -> tuple[Subscription, str]:
        """A new signing secret (shown once); deliveries carry both signatures for a day."""
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
        found = [s for s in self.list(actor=actor) if s.subscription_id == subscription_id]
        if not found or not found[0].active:
            msg = f"{actor.organisation} has no active webhook subscription {subscription_id}"
            raise NotFound(msg, kind="subscription", ident=subscription_id)
        return found[0]

    def unsubscribe(self, *, actor: Actor, subscription_id: str) -> None:
        """End a subscription of the actor's organisation; its pending deliveries end."""
        authorise_webhooks(actor, self._policy, manage=True)
        owned = {s.subscription_id for s in self.list(actor=actor)}
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
