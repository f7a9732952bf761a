"""Cursor pages over HTTP: every caseload list pages with ``after`` and ``limit``, a full page
links to the next with the same filters, and the pages add up to the whole list."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from phasedcare.api import create_app
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock, actor_of
from support import Journey, admin_of, handover, token_table

VT_ACTOR = actor_of("vt-ijsselland", user="u-vt-01")
WT_ACTOR = actor_of("wijkteam-zwolle", user="u-wt-01")
TOKENS = {"tok-vt": VT_ACTOR, "tok-wt": WT_ACTOR}
VT = {"Authorization": "Bearer tok-vt"}
WT = {"Authorization": "Bearer tok-wt"}
NEXT = re.compile(r'^<(?P<target>[^>]+)>; rel="next"$')


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    """The app over the test's engine; the two tokens above are all it knows."""
    with TestClient(create_app(engine, authenticate=token_table(TOKENS))) as c:
        yield c


@pytest.fixture
def proposals(engine: Engine, clock: ManualClock) -> list[str]:
    """Three cases in directe veiligheid, each with a handover proposed to the wijkteam."""
    cases = []
    for _ in range(3):
        journey = Journey(engine, clock, VT_ACTOR, WT_ACTOR).in_directe_veiligheid()
        engine.handle(handover(journey.case_id, WT_ACTOR.organisation), actor=VT_ACTOR)
        cases.append(journey.case_id)
    return cases


def follow(client: TestClient, first: str, headers: dict[str, str]) -> list[list[Any]]:
    """Every page from ``first`` on, following each Link rel=next until a page has none."""
    pages, target = [], first
    while True:
        response = client.get(target, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        link = response.headers.get("link")
        if link is None:
            return pages
        match = NEXT.match(link)
        assert match is not None, link
        target = match["target"]
        assert len(pages) < 20, "the cursor does not move on"


def test_deadline_pages_add_up_to_the_whole_list_and_keep_the_filters(
    client: TestClient, proposals: list[str]
) -> None:
    """Pages of two follow the cursor through every deadline, the kind filter kept."""
    whole = client.get("/deadlines?limit=500", headers=VT).json()
    pages = follow(client, "/deadlines?limit=2", VT)
    assert [row for page in pages for row in page] == whole
    assert [len(page) for page in pages[:-1]] == [2] * (len(pages) - 1)
    assert len(whole) > 4
    kind = whole[0]["kind"]
    of_kind = follow(client, f"/deadlines?kind={kind}&limit=1", VT)
    assert [row for page in of_kind for row in page] == [r for r in whole if r["kind"] == kind]


def test_handover_pages_of_the_receiver_follow_the_cursor(
    client: TestClient, proposals: list[str]
) -> None:
    """The wijkteam's three proposed handovers come one page at a time, by response date."""
    pages = follow(client, "/handovers?status=proposed&limit=1", WT)
    rows = [row for page in pages for row in page]
    assert sorted(row["case_id"] for row in rows) == sorted(proposals)
    assert [len(page) for page in pages] == [1, 1, 1, 0]
    assert rows == client.get("/handovers", headers=WT).json()
    assert client.get("/handovers?status=accepted", headers=WT).json() == []


def test_delivery_pages_show_only_the_callers_subscriptions(
    client: TestClient, engine: Engine, clock: ManualClock
) -> None:
    """Two subscriptions of the wijkteam: its deliveries page newest first; Veilig Thuis sees none."""
    for name in ("one", "two"):
        engine.webhooks.subscribe(actor=admin_of(WT_ACTOR), url=f"http://127.0.0.1:9/{name}")
    journey = Journey(engine, clock, VT_ACTOR, WT_ACTOR).in_directe_veiligheid()
    for _ in range(2):
        proposed = engine.handle(handover(journey.case_id, WT_ACTOR.organisation), actor=VT_ACTOR)
        assert proposed.created_id is not None
        engine.withdraw_handover(journey.case_id, actor=VT_ACTOR, handover_id=proposed.created_id)
    whole = client.get("/webhooks/deliveries", headers=WT).json()
    pages = follow(client, "/webhooks/deliveries?limit=3", WT)
    assert [row for page in pages for row in page] == whole
    assert len(whole) >= 4
    assert client.get("/webhooks/deliveries", headers=VT).json() == []


def test_the_cases_link_keeps_the_phase_filter(client: TestClient, proposals: list[str]) -> None:
    """A full page's Link repeats the query with the new cursor."""
    response = client.get("/cases?phase=directe_veiligheid&limit=2", headers=VT)
    target = NEXT.match(response.headers["link"])
    assert target is not None
    assert "phase=directe_veiligheid" in target["target"]
    rest = client.get(target["target"], headers=VT).json()
    assert [r["case_id"] for r in response.json() + rest] == sorted(proposals)


@pytest.mark.parametrize(
    "path",
    [
        "/deadlines?after=not-a-cursor",
        "/handovers?after=WyJ4Il0",  # a cursor of one value
        "/handovers?after=WyJub3QgYSBkYXkiLCJjIiwiaCJd",  # ["not a day","c","h"]
        "/webhooks/deliveries?after=%E2%82%AC",
    ],
)
def test_a_cursor_the_api_did_not_give_is_refused(client: TestClient, path: str) -> None:
    """A malformed cursor is a 422 problem naming ``after``, not a server error."""
    response = client.get(path, headers=WT)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "after" in response.text


def test_acute_cases_and_deadlines_come_first_on_every_page(
    client: TestClient, engine: Engine, clock: ManualClock
) -> None:
    """Issue 14, acute is acute: three ordinary meldingen wait (one overdue); two acute ones
    come in later. Paged two at a time, the caseload and the deadline list begin with the
    acute ones, each part in its own order, and every row comes exactly once."""
    ordinary = [engine.open_case(actor=VT_ACTOR, via="melding").case_id for _ in range(2)]
    clock.advance(days=10)
    ordinary.append(engine.open_case(actor=VT_ACTOR, via="melding").case_id)
    acute = [engine.open_case(actor=VT_ACTOR, via="melding", acute=True).case_id for _ in range(2)]

    cases = [row["case_id"] for page in follow(client, "/cases?limit=2", VT) for row in page]
    assert cases == [*sorted(acute), *sorted(ordinary)]

    pages = follow(client, "/deadlines?limit=2", VT)
    rows = [(row["case_id"], row["due_at"] is not None) for page in pages for row in page]
    assert rows[:2] == [(case_id, True) for case_id in sorted(acute)]
    assert sorted(case_id for case_id, _ in rows[2:]) == sorted(ordinary)
    assert [len(page) for page in pages] == [2, 2, 1]
    assert rows == [
        (row["case_id"], row["due_at"] is not None)
        for row in client.get("/deadlines?limit=500", headers=VT).json()
    ]
    overdue = follow(client, "/deadlines?overdue=true&limit=1", VT)
    assert [row["case_id"] for page in overdue for row in page] == sorted(ordinary[:2])
    owed = client.get("/obligations", headers=VT).json()
    assert [(o["case_id"], o["due_at"] is not None) for o in owed[:2]] == [
        (case_id, True) for case_id in sorted(acute)
    ]
    late = client.get("/obligations?overdue=true", headers=VT).json()
    assert sorted(o["case_id"] for o in late) == sorted(ordinary[:2])
    assert client.get("/obligations", headers=WT).json() == []  # the wijkteam owes none
