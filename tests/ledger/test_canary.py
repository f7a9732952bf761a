"""Canaries: names and narratives go in through every command and never come out in clear."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from phasedcare.bootstrap import build, initialise, open_store
from phasedcare.config import Settings
from phasedcare.domain import commands as cmd
from phasedcare.errors import StoreError
from phasedcare.ledger.codec import RecordCodec
from phasedcare.ledger.keys import CaseKeys, FileKeyProvider
from phasedcare.logs import configure_logging
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock, actor_of
from support import TAXATIE, handover

CANARIES = [f"Kanarie{n}Zeldzaam" for n in range(16)]
VT, WIJKTEAM = (
    actor_of("vt-ijsselland", user="u-vt-01"),
    actor_of("wijkteam-zwolle", user="u-wt-01"),
)
AUDITOR = actor_of("vt-ijsselland", user="u-audit", role="auditor")  # type: ignore[arg-type]


def every_command(engine: Engine, clock: ManualClock) -> str:
    """One household through every command that takes free text, each carrying a canary."""
    c = iter(CANARIES)
    case_id = engine.open_case(actor=VT, via="melding", summary=next(c)).case_id
    for role in ("slachtoffer", "pleger", "kind"):
        engine.record_member(case_id, actor=VT, role=role, name=f"{next(c)} Voorbeeld")
    engine.fire(case_id, "start_veiligheidsbeoordeling", actor=VT, chart="vt")
    engine.add_safety_condition(
        case_id,
        actor=VT,
        statement=next(c),
        owner="wijkteam-zwolle",
        check_every_days=7,
        check_method=next(c),
    )
    engine.record_risk_assessment(
        case_id,
        actor=VT,
        instrument="LIRIK",
        instrument_version="2",
        level="hoog",
        assessed_on=clock.today,
        items={"toelichting": next(c)},
    )
    engine.agree_safety_plan(case_id, actor=VT, agreed_on=clock.today, summary=next(c))
    engine.record_condition_status(
        case_id,
        actor=VT,
        condition_id="c1",
        status="met",
        observed_on=clock.today,
        evidence=next(c),
    )
    engine.handle(
        handover(case_id, "wijkteam-zwolle", note=next(c)),
        actor=VT,
    )
    engine.handle(
        cmd.RejectHandover(case_id=case_id, handover_id="h1", reason=next(c)), actor=WIJKTEAM
    )
    engine.record_incident(case_id, actor=VT, occurred_on=clock.today, description=next(c))
    engine.handle(cmd.PlaceLegalHold(case_id=case_id, reason=next(c)), actor=VT)
    engine.handle(cmd.ReleaseLegalHold(case_id=case_id, reason=next(c)), actor=VT)
    engine.fire(
        case_id, "besluit_einde_bemoeienis", actor=VT, chart="vt", reason=next(c), **TAXATIE
    )
    engine.fire(case_id, "vt_afsluiten", actor=VT, chart="vt")
    engine.fire(case_id, "afsluiten", actor=VT)
    engine.fire(case_id, "heropenen", actor=VT, reason=next(c))
    engine.fire(case_id, "start_directe_veiligheid", actor=VT)
    return case_id


def leaks(text: bytes) -> list[str]:
    """The canaries found in ``text`` (UTF-8 and UTF-16)."""
    return [c for c in CANARIES if c.encode() in text or c.encode("utf-16-le") in text]


def test_no_canary_outside_sealed_payloads_and_none_after_shredding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Database, WAL, logs, checkpoints and bundles hold no canary; after shredding nothing opens."""
    home = tmp_path / "home"
    settings = Settings(home=home, log_level="debug")
    initialise(settings)
    configure_logging(fmt="json", level="debug")
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    engine = build(settings, clock=clock)
    case_id = every_command(engine, clock)
    view = engine.show(case_id, actor=VT)
    assert (
        sum(c in view.model_dump_json() for c in CANARIES) >= 8
    )  # readable in memory, by the engine
    bundles = json.dumps(
        [engine.export_case(case_id, actor=AUDITOR), engine.export_ledger(actor=AUDITOR)]
    ).encode()
    logs = capsys.readouterr()
    at_rest = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert leaks(at_rest) == []
    assert leaks(bundles) == []
    assert leaks((logs.out + logs.err).encode()) == []
    assert '"command"' in logs.err or '"command"' in logs.out  # the logs were captured at all
    engine.close()


def test_after_shredding_not_even_the_key_provider_opens_the_case(tmp_path: Path) -> None:
    """Past retention the data key is gone: the KEK on hand no longer opens any record."""
    home = tmp_path / "home"
    settings = Settings(home=home)
    initialise(settings)
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    engine = build(settings, clock=clock)
    case_id = engine.open_case(actor=VT, via="advies", summary=CANARIES[0]).case_id
    engine.fire(case_id, "advies_afronden", actor=VT, chart="vt")
    engine.fire(case_id, "afsluiten", actor=VT)
    clock.now += timedelta(days=21 * 366)
    assert [d.due for d in engine.run_retention(actor=VT)] == [True]
    records = engine.store.load(case_id)
    engine.close()
    store = open_store(settings.resolved_database_url)
    codec = RecordCodec(keys=CaseKeys(store, FileKeyProvider(home / "keys")))
    with pytest.raises(StoreError, match="has no data key"):
        codec.decode(records[:-1])
    store.close()
    at_rest = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert leaks(at_rest) == []
