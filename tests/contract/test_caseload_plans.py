"""Caseload pages read an index in their own order (SQLite's plans), so a page of 50 stops
after 50 index entries at any size of the ledger instead of sorting every match.

The growth bench (``bench/growth_bench.py --explain``) shows the same plans on PostgreSQL at a
million events.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from notification_contract import ROWS_A, ROWS_B, ROWS_C, VT, WIJK, open_cases
from sqlalchemy import event

from phasedcare.service.ports import CaseFilter, DeadlineFilter, HandoverFilter
from phasedcare.store import SqlEventStore

PAGE = 50
TODAY = date(2026, 3, 10)

PAGES: dict[str, tuple[Callable[[SqlEventStore], Any], tuple[str, ...]]] = {
    "cases held by an organisation": (
        lambda s: s.projections(CaseFilter(organisation=VT, limit=PAGE, after_case_id="c-a")),
        ("ix_case_records_regie_case",),
    ),
    "cases of an organisation in a phase": (
        lambda s: s.projections(CaseFilter(organisation=VT, phase="aanmelding", limit=PAGE)),
        ("ix_case_records_regie_phase_case",),
    ),
    "cases in a phase": (
        lambda s: s.projections(CaseFilter(phase="aanmelding", limit=PAGE)),
        ("ix_case_records_phase_case",),
    ),
    "the acute cases, first on a page": (
        lambda s: s.projections(CaseFilter(acute=True, limit=PAGE)),
        ("ix_case_records_acute_case",),
    ),
    "the other cases of an organisation, after a cursor": (
        lambda s: s.projections(
            CaseFilter(organisation=VT, acute=False, limit=PAGE, after_case_id="c-a")
        ),
        ("ix_case_records_regie_acute_case",),
    ),
    "the acute deadlines, first on a page": (
        lambda s: s.deadline_rows(DeadlineFilter(acute=True, limit=PAGE)),
        ("ix_case_deadlines_acute_order",),
    ),
    "the acute deadlines of an organisation": (
        lambda s: s.deadline_rows(DeadlineFilter(responsible=WIJK, acute=True, limit=PAGE)),
        ("ix_case_deadlines_responsible_acute_order",),
    ),
    "the other deadlines after a cursor": (
        lambda s: s.deadline_rows(
            DeadlineFilter(acute=False, limit=PAGE, after=(date(2026, 3, 4), "c-b", "plan", ""))
        ),
        ("ix_case_deadlines_order",),
    ),
    "overdue deadlines of an organisation": (
        lambda s: s.deadline_rows(DeadlineFilter(responsible=WIJK, due_before=TODAY, limit=PAGE)),
        ("ix_case_deadlines_responsible_order",),
    ),
    "deadlines of a kind after a cursor": (
        lambda s: s.deadline_rows(
            DeadlineFilter(kind="plan", limit=PAGE, after=(date(2026, 3, 4), "c-b", "plan", ""))
        ),
        ("ix_case_deadlines_kind_order",),
    ),
    "handovers of an organisation": (
        lambda s: s.handover_rows(HandoverFilter(organisation=WIJK, limit=PAGE)),
        ("ix_case_handovers_from_order", "ix_case_handovers_to_order"),
    ),
    "proposed handovers of an organisation": (
        lambda s: s.handover_rows(HandoverFilter(organisation=WIJK, status="proposed", limit=PAGE)),
        ("ix_case_handovers_from_status_order", "ix_case_handovers_to_status_order"),
    ),
}


def first_plan(store: SqlEventStore, page: Callable[[SqlEventStore], Any]) -> list[str]:
    """SQLite's plan of the first statement the page runs (its main query)."""
    engine = store._engine  # the statements of the store's own connections
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        page(store)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = seen[0]
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
    return [str(row[-1]) for row in rows]


@pytest.mark.parametrize("name", list(PAGES))
def test_a_caseload_page_reads_its_index_in_order(sqlite_url: str, name: str) -> None:
    """The page's query searches its own index and sorts nothing but a merge of its legs."""
    store = SqlEventStore(sqlite_url)
    try:
        open_cases(store, ("c-a", ROWS_A), ("c-b", ROWS_B), ("c-c", ROWS_C))
        page, indexes = PAGES[name]
        plan = first_plan(store, page)
    finally:
        store.close()
    # SEARCH an index, or SCAN a partial one (it holds only the rows the page may show)
    searches = [line for line in plan if " USING INDEX " in line]
    assert [line.split(" USING INDEX ")[1].split()[0] for line in searches] == list(indexes)
    assert all(line.startswith("SEARCH") or "_acute_" in line for line in searches), plan
    sorts = [line for line in plan if "TEMP B-TREE" in line]
    assert len(sorts) == (2 if len(indexes) == 2 else 0)  # a union sorts its legs' pages only
