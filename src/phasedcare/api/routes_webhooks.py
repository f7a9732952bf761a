"""Webhook subscriptions of the caller's organisation, and their deliveries.

Only the organisation's ``integration_admin`` makes, rotates and ends subscriptions; its
professionals and integration admin list them and read their deliveries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from phasedcare.api.context import Ctx, CurrentActor
from phasedcare.api.paging import After, Limit, decode_cursor, encode_cursor, link_next
from phasedcare.api.paths import SubscriptionIdPath
from phasedcare.api.problems import ERRORS, documented
from phasedcare.service.ports import Delivery, DeliveryCursor, Subscription

__all__ = ["webhooks"]

webhooks = APIRouter(prefix="/webhooks", tags=["webhooks"])

SUBSCRIPTION_ERRORS = documented(400, 401, 403, 404, 413, 422, 429, 503)
"""The problem details of a request about one subscription (404: not the caller's)."""


class SubscriptionView(BaseModel):
    """A subscription as its organisation sees it: never the secret."""

    model_config = ConfigDict(frozen=True)

    subscription_id: str
    organisation: str
    url: str
    active: bool
    created_at: datetime


class NewSubscription(SubscriptionView):
    """A new subscription with its signing secret, shown this once."""

    secret: str = Field(description="whsec_...: verify deliveries with it; shown only now.")


class SubscriptionRequest(BaseModel):
    """Where to deliver: an https URL of a public host on an allowed port (443 or 8443 by
    default); internal, loopback and metadata hosts are refused with the reason."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000)


def _view(sub: Subscription) -> SubscriptionView:
    return SubscriptionView(
        subscription_id=sub.subscription_id,
        organisation=sub.organisation,
        url=sub.url,
        active=sub.active,
        created_at=sub.created_at,
    )


@webhooks.post("/subscriptions", status_code=201, response_model=NewSubscription, responses=ERRORS)
def subscribe(
    ctx: Ctx, actor: CurrentActor, response: Response, body: Annotated[SubscriptionRequest, Body()]
) -> NewSubscription:
    """Subscribe the caller's organisation (integration_admin only, up to the policy's cap);
    the URL's host is resolved and refused when any address is internal; the secret is in
    this response only."""
    sub, secret = ctx.engine.webhooks.subscribe(actor=actor, url=body.url)
    response.headers["Location"] = f"/webhooks/subscriptions/{sub.subscription_id}"
    return NewSubscription(**_view(sub).model_dump(), secret=secret)


@webhooks.get("/subscriptions", response_model=list[SubscriptionView], responses=ERRORS)
def list_subscriptions(ctx: Ctx, actor: CurrentActor) -> list[SubscriptionView]:
    """The caller's organisation's subscriptions, active or not."""
    return [_view(s) for s in ctx.engine.webhooks.list(actor=actor)]


@webhooks.post(
    "/subscriptions/{subscription_id}/rotate-secret",
    response_model=NewSubscription,
    responses=SUBSCRIPTION_ERRORS,
)
def rotate_secret(
    subscription_id: SubscriptionIdPath, ctx: Ctx, actor: CurrentActor
) -> NewSubscription:
    """A new signing secret, in this response only; for a day deliveries carry signatures
    with the old and the new secret, so the receiver can switch without missing one."""
    sub, secret = ctx.engine.webhooks.rotate(actor=actor, subscription_id=subscription_id)
    return NewSubscription(**_view(sub).model_dump(), secret=secret)


@webhooks.delete(
    "/subscriptions/{subscription_id}",
    status_code=204,
    responses=SUBSCRIPTION_ERRORS,
)
def unsubscribe(subscription_id: SubscriptionIdPath, ctx: Ctx, actor: CurrentActor) -> Response:
    """End a subscription; its pending deliveries end."""
    ctx.engine.webhooks.unsubscribe(actor=actor, subscription_id=subscription_id)
    return Response(status_code=204)


def _delivery_after(after: str | None) -> DeliveryCursor | None:
    if after is None:
        return None
    message_id, subscription_id = decode_cursor(after, size=2)
    return message_id, subscription_id


@webhooks.get("/deliveries", response_model=list[Delivery], responses=ERRORS)
def deliveries(
    *,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    response: Response,
    status: str | None = None,
    after: After = None,
    limit: Limit = 100,
) -> list[Delivery]:
    """Deliveries to the caller's organisation's subscriptions, newest first, with status;
    one page after the cursor."""
    page = ctx.engine.webhooks.deliveries(
        actor=actor, status=status, after=_delivery_after(after), limit=limit
    )
    if page:
        last = encode_cursor((page[-1].message_id, page[-1].subscription_id))
        link_next(request, response, rows=page, limit=limit, after=last)
    return page
