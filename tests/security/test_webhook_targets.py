"""M1: webhook targets are checked for real, at subscription and again at send, pinned.

Every spelling of an internal host in :data:`INTERNAL` is refused through the HTTP API (422,
with the reason) and, written straight into the store as an insider would, is not sent to
(the delivery ends ``refused``, no connection is made). The table in docs/security.md is
:func:`spelling_table` of the same list (``PYTHONPATH=tests python tests/security/test_webhook_targets.py``
prints it), and a test keeps the two equal. No test here needs DNS: a fake resolver answers.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from phasedcare.api import create_app
from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.policy import default_policy
from phasedcare.errors import NotAuthorised, TargetRefused
from phasedcare.service.engine import Engine
from phasedcare.service.jobs import Jobs
from phasedcare.service.webhook_targets import WebhookTarget, WebhookTargets
from phasedcare.service.webhooks import DeliveryAttempt, WebhookSender
from phasedcare.testing import ManualClock, actor_of, memory_engine
from receiver import WebhookReceiver
from support import Journey, handover

PUBLIC = "93.184.215.14"
"""A globally routable address the fake DNS gives public names (nothing connects to it)."""

DNS: dict[str, list[str]] = {
    "hooks.example.com": [PUBLIC],
    "slow.example.com": [PUBLIC],
    "fast.example.com": [PUBLIC],
    "127.0.0.1.nip.io": ["127.0.0.1"],
    "10.0.0.1.sslip.io": ["10.0.0.1"],
    "mixed.example.com": [PUBLIC, "192.168.1.10"],
    "ula.example.com": ["fd12:3456::1"],
    "mapped.example.com": ["::ffff:169.254.169.254"],
}
"""The fake DNS: the names the tests use and the addresses they resolve to."""


@dataclass(frozen=True)
class Spelling:
    """An URL whose host is internal, and what it really reaches."""

    url: str
    reaches: str


INTERNAL: tuple[Spelling, ...] = (
    Spelling("https://127.0.0.1/", "loopback"),
    Spelling("https://127.0.0.2/", "loopback (all of 127.0.0.0/8)"),
    Spelling("https://127.1/", "loopback, short form"),
    Spelling("https://2130706433/", "loopback as one decimal number"),
    Spelling("https://0x7f000001/", "loopback in hexadecimal"),
    Spelling("https://017700000001/", "loopback in octal"),
    Spelling("https://0x7f.1/", "loopback, hexadecimal short form"),
    Spelling("https://[::1]/", "IPv6 loopback"),
    Spelling("https://[0:0:0:0:0:0:0:1]/", "IPv6 loopback written out"),
    Spelling("https://[::ffff:127.0.0.1]/", "IPv4-mapped loopback"),
    Spelling("https://[::ffff:7f00:1]/", "IPv4-mapped loopback in hexadecimal"),
    Spelling("https://[::127.0.0.1]/", "IPv4-compatible loopback"),
    Spelling("https://[::ffff:0:127.0.0.1]/", "IPv4-translated loopback (::ffff:0:0:0/96)"),
    Spelling("https://[::ffff:0:7f00:1]/", "IPv4-translated loopback in hexadecimal"),
    Spelling("https://[64:ff9b::7f00:1]/", "NAT64 form of loopback"),
    Spelling("https://[2002:7f00:1::]/", "6to4 form of loopback"),
    Spelling("https://localhost/", "localhost"),
    Spelling("https://LOCALHOST/", "localhost in capitals"),
    Spelling("https://localhost./", "localhost, fully qualified"),
    Spelling("https://localhost.localdomain/", "localhost.localdomain"),
    Spelling("https://api.localhost/", "a name under .localhost"),
    Spelling("https://127.0.0.1.nip.io/", "a public name that resolves to loopback"),
    Spelling("https://0.0.0.0/", "the unspecified address (this machine)"),
    Spelling("https://0/", "the unspecified address as one number"),
    Spelling("https://[::]/", "the IPv6 unspecified address"),
    Spelling("https://10.0.0.1/x", "RFC 1918"),
    Spelling("https://172.16.0.1/", "RFC 1918"),
    Spelling("https://192.168.1.1/", "RFC 1918"),
    Spelling("https://10.0.0.1.sslip.io/", "a public name that resolves to RFC 1918"),
    Spelling("https://mixed.example.com/", "a name with one public and one private address"),
    Spelling("https://169.254.169.254/latest/meta-data/", "cloud metadata (AWS, Azure, GCP)"),
    Spelling("https://[::ffff:169.254.169.254]/", "cloud metadata, IPv4-mapped"),
    Spelling("https://[::ffff:0:169.254.169.254]/", "cloud metadata, IPv4-translated"),
    Spelling("https://mapped.example.com/", "a name whose AAAA is mapped metadata"),
    Spelling("https://[64:ff9b::a9fe:a9fe]/", "cloud metadata through NAT64"),
    Spelling("https://[fd00:ec2::254]/", "AWS metadata over IPv6 (a ULA)"),
    Spelling("https://100.100.100.200/", "Alibaba Cloud metadata (CGNAT)"),
    Spelling("https://100.64.0.1/", "CGNAT, RFC 6598"),
    Spelling("https://[fe80::1%25eth0]/", "IPv6 link-local with a zone index"),
    Spelling("https://[fe80::1]/", "IPv6 link-local"),
    Spelling("https://[fd00::1]/", "IPv6 unique local address"),
    Spelling("https://ula.example.com/", "a public name that resolves to a ULA"),
    Spelling("https://metadata.google.internal/computeMetadata/v1/", "GCP metadata name"),
    Spelling("https://metadata/", "metadata name, single label"),
    Spelling("https://instance-data/", "AWS metadata name, single label"),
    Spelling("https://instance-data.ec2.internal/", "AWS metadata name"),
    Spelling("https://db.corp.internal/", "a private .internal name"),
    Spelling("https://printer.local/", "an mDNS .local name"),
    Spelling("https://224.0.0.1/", "IPv4 multicast"),
    Spelling("https://[ff02::1]/", "IPv6 multicast"),
    Spelling("https://255.255.255.255/", "broadcast"),
    Spelling("https://240.0.0.1/", "reserved (240.0.0.0/4)"),
    Spelling("https://198.18.0.1/", "benchmarking network, not routed"),
    Spelling("https://\u0435xample.com/", "a homograph of example.com (Cyrillic e)"),
)
"""Internal hosts in the spellings the security review tried and more: all refused."""

DOC = Path(__file__).parents[2] / "docs" / "security.md"
TABLE_START = "<!-- webhook-spellings: generated by tests/security/test_webhook_targets.py -->"
TABLE_END = "<!-- /webhook-spellings -->"


def fake_dns(host: str, port: int) -> Sequence[str]:
    """The fake DNS; an unknown name does not resolve."""
    try:
        return DNS[host]
    except KeyError:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None


STRICT = WebhookTargets(resolver=fake_dns)
"""Targets as production judges them (no loopback), over the fake DNS."""


def reason(url: str) -> str:
    """The reason the production check gives for refusing ``url``."""
    with pytest.raises(TargetRefused) as refused:
        STRICT.check(url)
    return refused.value.message


def spelling_table() -> str:
    """The Markdown table of :data:`INTERNAL` in docs/security.md, reasons included."""
    rows = [
        "| # | URL | what it reaches | refused at subscription (422), with the reason | "
        "refused at send |",
        "| --- | --- | --- | --- | --- |",
    ]
    for number, spelling in enumerate(INTERNAL, start=1):
        why = reason(spelling.url)
        rows.append(
            f"| {number} | `{spelling.url}` | {spelling.reaches} | {why} | "
            "yes: delivery dead, nothing sent |"
        )
    return "\n".join(rows)


class Recording(httpx.MockTransport):
    """An HTTP transport that answers 200 and keeps every request it was given."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        super().__init__(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200)


INTEGRATION = {
    "tok-admin": "u-int-01@wijkteam-zwolle:integration_admin",
    "tok-wt": "u-wt-01@wijkteam-zwolle:professional",
    "tok-aud": "u-aud-01@vt-ijsselland:auditor",
    "tok-deventer-admin": "u-int-02@wijkteam-deventer:integration_admin",
}
ADMIN = {"Authorization": "Bearer tok-admin"}
WT = {"Authorization": "Bearer tok-wt"}


def _authenticate(token: str) -> Actor:
    if token not in INTEGRATION:
        raise NotAuthorised("unknown token", actor="-")
    return Actor.parse(INTEGRATION[token])


@pytest.fixture
def strict(clock: ManualClock) -> Engine:
    """An engine that refuses loopback, as production does, over the fake DNS."""
    return memory_engine(clock=clock, allow_loopback=False, resolver=fake_dns)


@pytest.fixture
def api(strict: Engine) -> Iterator[TestClient]:
    """The HTTP API over the strict engine."""
    with TestClient(create_app(strict, authenticate=_authenticate)) as client:
        yield client


ADMIN_ACTOR = actor_of("wijkteam-zwolle", user="u-int-01", role=Role.integration_admin)
VT_ACTOR = actor_of("vt-ijsselland", user="u-vt-01")
WT_ACTOR = actor_of("wijkteam-zwolle", user="u-wt-01")


def _proposed(engine: Engine, clock: ManualClock, to: str = "wijkteam-zwolle") -> str:
    """A case with a handover proposed to ``to``: one outbox message for it."""
    journey = Journey(engine, clock, VT_ACTOR, WT_ACTOR).opened().with_members().with_conditions()
    engine.handle(handover(journey.case_id, to), actor=VT_ACTOR)
    return journey.case_id


def _planted(engine: Engine, urls: Sequence[str], organisation: str = "wijkteam-zwolle") -> None:
    """Subscription rows written straight into the store, past every check (the insider)."""
    admin = actor_of(organisation, role=Role.integration_admin)
    legit, _ = engine.webhooks.subscribe(actor=admin, url="https://hooks.example.com/in")
    engine.store.deactivate_subscription(legit.subscription_id)
    for number, url in enumerate(urls):
        row = dataclasses.replace(legit, subscription_id=f"sub_planted{number:04d}", url=url)
        engine.store.add_subscription(dataclasses.replace(row, active=True))


# -- every spelling, at subscription and at send ----------------------------------------------


def test_the_list_holds_at_least_thirty_distinct_spellings() -> None:
    """The regression list is long enough and has no repeats."""
    urls = [s.url for s in INTERNAL]
    assert len(urls) >= 30
    assert len(set(urls)) == len(urls)


@pytest.mark.parametrize("spelling", INTERNAL, ids=[s.url for s in INTERNAL])
def test_an_internal_host_is_refused_at_subscription_with_the_reason(
    api: TestClient, strict: Engine, spelling: Spelling
) -> None:
    """422 target-refused on the url field, the reason as the detail; nothing is stored."""
    answer = api.post("/webhooks/subscriptions", json={"url": spelling.url}, headers=ADMIN)
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"].endswith("/target-refused")
    assert (problem["field"], problem["detail"]) == ("url", reason(spelling.url))
    assert strict.store.subscriptions() == []


def test_an_internal_host_written_past_the_api_is_not_sent_to(
    strict: Engine, clock: ManualClock
) -> None:
    """Every planted spelling's delivery ends dead as refused, and no request is made."""
    _planted(strict, [s.url for s in INTERNAL])
    case_id = _proposed(strict, clock)
    network = Recording()
    jobs = Jobs(engine=strict, sender=WebhookSender(client=httpx.Client(transport=network)))
    report = jobs.drain_outbox(limit=200)
    assert (report.refused, report.delivered, report.retrying) == (len(INTERNAL), 0, 0)
    assert network.requests == []
    by_url = {s.subscription_id: s.url for s in strict.store.subscriptions()}
    errors = {by_url[d.subscription_id]: d.last_error for d in strict.store.deliveries()}
    assert errors == {s.url: f"refused: {reason(s.url)}" for s in INTERNAL}
    assert {d.status for d in strict.store.deliveries(case_id=case_id)} == {"dead"}


def test_the_drainer_makes_no_connection_to_a_loopback_listener(
    strict: Engine, clock: ManualClock
) -> None:
    """The review's reproduction: numeric loopback spellings reach no listener at all."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.2)
        port = listener.getsockname()[1]
        hosts = ("127.1", "2130706433", "0x7f000001", "[::ffff:127.0.0.1]", "127.0.0.1")
        _planted(strict, [f"https://{host}:{port}/x" for host in hosts])
        _proposed(strict, clock)
        with WebhookSender(timeout_seconds=1) as sender:
            report = Jobs(engine=strict, sender=sender).drain_outbox()
        assert report.refused == len(hosts)
        with pytest.raises(TimeoutError):
            listener.accept()


@pytest.mark.parametrize(
    "url", ["https://[::ffff:0:808:808]/", "https://[::ffff:0:8.8.8.8]/"], ids=["hex", "dotted"]
)
def test_an_ipv4_translated_public_address_is_refused_with_advice(url: str) -> None:
    """Gap A8 of the issue 12 audit: ::ffff:0:a.b.c.d (RFC 2765, ::ffff:0:0:0/96) was taken for
    a global IPv6 address. Like the mapped and compatible forms it is judged as the IPv4
    address it carries, and even a public one is refused: write the IPv4 address itself."""
    assert reason(url) == (
        "the webhook host is an IPv4-translated IPv6 form of a public IPv4 address: write the "
        "IPv4 address itself"
    )


# -- the table in the docs ---------------------------------------------------------------------


def test_the_docs_table_is_the_tested_list() -> None:
    """docs/security.md shows exactly these spellings and reasons (regenerate: run this file)."""
    text = DOC.read_text(encoding="utf-8")
    assert TABLE_START in text, f"docs/security.md lacks the marker {TABLE_START}"
    shown = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip()
    assert shown == spelling_table()


# -- the port rule, public hosts, resolution -----------------------------------------------------


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://hooks.example.com:22/", "port must be one of 443, 8443, not 22"),
        ("https://hooks.example.com:0/", "not 0"),
        ("https://hooks.example.com:80/", "not 80"),
        ("http://hooks.example.com/", "must use https"),
        ("https://nowhere.example.com/", "does not resolve"),
    ],
)
def test_odd_ports_plain_http_and_unknown_names_are_refused(url: str, words: str) -> None:
    """Only https on 443 and 8443; a name that does not resolve is refused for now."""
    assert words in reason(url)


def test_a_name_that_does_not_resolve_is_refused_as_transient() -> None:
    """An unresolvable name may resolve later: the refusal says so, unlike an internal one."""
    with pytest.raises(TargetRefused) as refused:
        STRICT.check("https://nowhere.example.com/")
    assert refused.value.transient
    with pytest.raises(TargetRefused) as internal:
        STRICT.check("https://10.0.0.1/")
    assert not internal.value.transient


def test_the_policy_names_the_ports(clock: ManualClock) -> None:
    """A region listing 443 and 9443 gets those, and 8443 is then refused."""
    base = default_policy()
    policy = base.model_copy(
        update={"webhooks": base.webhooks.model_copy(update={"ports": [443, 9443]})}
    )
    engine = memory_engine(policy=policy, clock=clock, allow_loopback=False, resolver=fake_dns)
    sub, _ = engine.webhooks.subscribe(actor=ADMIN_ACTOR, url="https://hooks.example.com:9443/")
    assert sub.url == "https://hooks.example.com:9443/"
    with pytest.raises(TargetRefused, match="one of 443, 9443, not 8443"):
        engine.webhooks.subscribe(actor=ADMIN_ACTOR, url="https://hooks.example.com:8443/")


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.com/in", "https://hooks.example.com:8443/in", f"https://{PUBLIC}/"],
)
def test_a_public_host_on_an_allowed_port_is_accepted(api: TestClient, url: str) -> None:
    """The check refuses internal hosts only: a public https endpoint subscribes (201)."""
    answer = api.post("/webhooks/subscriptions", json={"url": url}, headers=ADMIN)
    assert answer.status_code == 201
    assert answer.json()["url"] == url


# -- pinning: no DNS rebinding ------------------------------------------------------------------


class Rebinding:
    """A resolver whose answers for one name follow a script, one per lookup."""

    def __init__(self, answers: Sequence[str]) -> None:
        self.answers = list(answers)
        self.lookups = 0

    def __call__(self, host: str, port: int) -> Sequence[str]:
        answer = self.answers[min(self.lookups, len(self.answers) - 1)]
        self.lookups += 1
        return [answer]


def test_the_sender_connects_to_the_checked_address_not_a_rebound_one(clock: ManualClock) -> None:
    """Public at subscription and at the send-time check, loopback after: the request goes to
    the checked public address, with the name in Host and as the TLS server name."""
    dns = Rebinding([PUBLIC, PUBLIC, "127.0.0.1"])
    engine = memory_engine(clock=clock, allow_loopback=False, resolver=dns)
    engine.webhooks.subscribe(actor=ADMIN_ACTOR, url="https://rebind.example.com/in?x=1")
    _proposed(engine, clock)
    network = Recording()
    jobs = Jobs(engine=engine, sender=WebhookSender(client=httpx.Client(transport=network)))
    assert jobs.drain_outbox().delivered == 1
    [request] = network.requests
    assert (str(request.url), request.headers["host"]) == (
        f"https://{PUBLIC}/in?x=1",
        "rebind.example.com",
    )
    assert request.extensions["sni_hostname"] == "rebind.example.com"
    assert dns.lookups == 2  # subscription and send-time check: the sender looked nothing up


def test_a_name_rebound_to_loopback_before_sending_is_refused(clock: ManualClock) -> None:
    """Public at subscription, loopback at send: refused, nothing sent."""
    engine = memory_engine(
        clock=clock, allow_loopback=False, resolver=Rebinding([PUBLIC, "127.0.0.1"])
    )
    engine.webhooks.subscribe(actor=ADMIN_ACTOR, url="https://rebind.example.com/in")
    _proposed(engine, clock)
    network = Recording()
    jobs = Jobs(engine=engine, sender=WebhookSender(client=httpx.Client(transport=network)))
    assert jobs.drain_outbox().refused == 1
    assert network.requests == []
    [delivery] = engine.store.deliveries()
    assert delivery.last_error == "refused: the webhook host resolves to a loopback address"


def test_a_pinned_connection_reaches_a_real_receiver_by_its_checked_address(
    clock: ManualClock,
) -> None:
    """Over real sockets: a name only the fake DNS knows is delivered to, Host kept."""
    engine = memory_engine(clock=clock, allow_loopback=True, resolver=lambda *_: ["127.0.0.1"])
    with WebhookReceiver() as rx:
        port = rx.url.rsplit(":", 1)[1].split("/")[0]
        url = f"http://receiver.example.com:{port}/hooks"
        _, rx.secret = engine.webhooks.subscribe(actor=ADMIN_ACTOR, url=url)
        _proposed(engine, clock)
        with WebhookSender(timeout_seconds=2) as sender:
            assert Jobs(engine=engine, sender=sender, clock=clock).drain_outbox().delivered == 1
        [received] = rx.wait_for(1)
    assert received.headers["host"] == f"receiver.example.com:{port}"


# -- the cap and the role -------------------------------------------------------------------------


def test_an_organisation_holds_at_most_the_policy_cap_of_active_subscriptions(
    api: TestClient,
) -> None:
    """Ten are made; the eleventh is a 422 naming the cap; ending one makes room again."""
    made = [
        api.post(
            "/webhooks/subscriptions", json={"url": f"https://hooks.example.com/{n}"}, headers=ADMIN
        )
        for n in range(10)
    ]
    assert [m.status_code for m in made] == [201] * 10
    over = api.post(
        "/webhooks/subscriptions", json={"url": "https://hooks.example.com/x"}, headers=ADMIN
    )
    assert over.status_code == 422
    assert over.json()["rule"] == "webhook_subscription_cap"
    assert "the most the policy allows (10)" in over.json()["detail"]
    other = {"Authorization": "Bearer tok-deventer-admin"}
    assert (
        api.post(
            "/webhooks/subscriptions", json={"url": "https://hooks.example.com/d"}, headers=other
        ).status_code
        == 201
    )
    first = made[0].json()["subscription_id"]
    assert api.delete(f"/webhooks/subscriptions/{first}", headers=ADMIN).status_code == 204
    assert (
        api.post(
            "/webhooks/subscriptions", json={"url": "https://hooks.example.com/y"}, headers=ADMIN
        ).status_code
        == 201
    )


@pytest.mark.parametrize("token", ["tok-wt", "tok-aud"])
def test_only_an_integration_admin_manages_subscriptions(api: TestClient, token: str) -> None:
    """A professional or an auditor gets 403 on create, rotate and delete."""
    made = api.post(
        "/webhooks/subscriptions", json={"url": "https://hooks.example.com/in"}, headers=ADMIN
    )
    sub_id = made.json()["subscription_id"]
    them = {"Authorization": f"Bearer {token}"}
    attempts = [
        api.post(
            "/webhooks/subscriptions", json={"url": "https://hooks.example.com/2"}, headers=them
        ),
        api.post(f"/webhooks/subscriptions/{sub_id}/rotate-secret", headers=them),
        api.delete(f"/webhooks/subscriptions/{sub_id}", headers=them),
    ]
    assert [a.status_code for a in attempts] == [403, 403, 403]
    assert "integration_admin" in attempts[0].json()["detail"]
    assert [s["active"] for s in api.get("/webhooks/subscriptions", headers=ADMIN).json()] == [True]


def test_professionals_read_subscriptions_and_deliveries_and_admins_read_no_case(
    api: TestClient,
) -> None:
    """The organisation's professionals list; its integration admin reads no case at all."""
    api.post("/webhooks/subscriptions", json={"url": "https://hooks.example.com/in"}, headers=ADMIN)
    assert len(api.get("/webhooks/subscriptions", headers=WT).json()) == 1
    assert api.get("/webhooks/deliveries", headers=WT).status_code == 200
    assert api.get("/webhooks/deliveries", headers=ADMIN).status_code == 200
    assert api.get("/cases", headers=ADMIN).status_code == 403
    assert api.get("/handovers", headers=ADMIN).status_code == 403


def test_the_role_parses_from_its_stored_value() -> None:
    """``u@org:integration_admin`` is an actor with the new role, stored as its name."""
    actor = Actor.parse("u-int-01@wijkteam-zwolle:integration_admin")
    assert (actor.role, str(actor.role), str(actor)) == (
        Role.integration_admin,
        "integration_admin",
        "u-int-01@wijkteam-zwolle:integration_admin",
    )


# -- fairness between organisations -------------------------------------------------------------


class TimedSender(WebhookSender):
    """A sender on a fake timer: slow.example.com takes five seconds a delivery."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.sent: list[tuple[str, float]] = []
        self._lock = threading.Lock()

    def timer(self) -> float:
        """The fake monotonic clock the drain reads."""
        return self.now

    def send(  # type: ignore[override]  # the fake takes what the real one does, by keyword
        self, *, target: WebhookTarget, **_: Mapping[str, object] | Sequence[str] | str | int
    ) -> DeliveryAttempt:
        """Take five (fake) seconds for the slow host, a quarter for any other; 200."""
        with self._lock:
            self.now += 5.0 if target.host == "slow.example.com" else 0.25  # exact in binary
            self.sent.append((target.host, self.now))
        return DeliveryAttempt(ok=True, status=200, error="", retry_after_seconds=None)


def _two_organisations(engine: Engine, clock: ManualClock, *, slow: int, fast: int) -> None:
    """Zwolle behind ``slow`` slow endpoints, Deventer behind ``fast`` fast ones; one case
    proposed to each (Zwolle's first, so its deliveries are due first)."""
    zwolle = actor_of("wijkteam-zwolle", role=Role.integration_admin)
    deventer = actor_of("wijkteam-deventer", role=Role.integration_admin)
    for n in range(slow):
        engine.webhooks.subscribe(actor=zwolle, url=f"https://slow.example.com/{n}")
    for n in range(fast):
        engine.webhooks.subscribe(actor=deventer, url=f"https://fast.example.com/{n}")
    _proposed(engine, clock, to="wijkteam-zwolle")
    clock.advance(hours=1)
    _proposed(engine, clock, to="wijkteam-deventer")


def test_a_slow_organisation_gets_its_time_and_no_more_in_a_drain(
    strict: Engine, clock: ManualClock
) -> None:
    """Round robin, ten seconds each: Deventer's five all go out within Zwolle's budget plus
    one slow send; Zwolle's extra deliveries wait, unattempted, for a later drain."""
    _two_organisations(strict, clock, slow=6, fast=5)
    sender = TimedSender()
    jobs = Jobs(
        engine=strict, sender=sender, clock=clock, organisation_seconds=10, timer=sender.timer
    )
    report = jobs.drain_outbox()
    assert (report.delivered, report.deferred) == (7, 4)
    fast_done = [at for host, at in sender.sent if host == "fast.example.com"]
    assert len(fast_done) == 5
    assert max(fast_done) <= 10 + 5 + 1
    waiting = strict.store.deliveries(status="pending")
    assert [d.attempts for d in waiting] == [0, 0, 0, 0]
    assert jobs.drain_outbox().delivered == 0  # still leased: not taken again at once
    clock.advance(hours=1)  # the two-minute lease is over
    assert jobs.drain_outbox().delivered == 2


def test_a_backlog_of_one_organisation_does_not_starve_another(
    strict: Engine, clock: ManualClock
) -> None:
    """Batches of two, all of Zwolle's due first: the drain claims on past them in the same
    run, so Deventer's deliveries still go out."""
    _two_organisations(strict, clock, slow=8, fast=2)
    sender = TimedSender()
    jobs = Jobs(
        engine=strict, sender=sender, clock=clock, organisation_seconds=10, timer=sender.timer
    )
    report = jobs.drain_outbox(limit=2)
    hosts = [host for host, _ in sender.sent]
    assert hosts.count("fast.example.com") == 2
    assert hosts.count("slow.example.com") == 2
    assert report.deferred == 6


if __name__ == "__main__":
    print(TABLE_START)
    print()
    print(spelling_table())
    print()
    print(TABLE_END)
