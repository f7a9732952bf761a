"""``phasedcare audit``: verify the ledger, sign checkpoints, replay a case, show the key."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from phasedcare.cli.app import (
    ActorOption,
    CaseArg,
    HomeOption,
    JsonOption,
    app,
    open_engine,
    parse_actor,
)
from phasedcare.cli.output import console, emit_json, fail, listing, reporting_errors, say, table
from phasedcare.config import Settings, load_settings
from phasedcare.domain.case import CaseState
from phasedcare.ledger.bundle import verify_bundle
from phasedcare.ledger.verify import VerifyReport
from phasedcare.service.audit import Auditor

__all__: list[str] = []

audit_app = typer.Typer(help="Verify, checkpoint and replay the ledger.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def _verify_with_progress(
    home: Path | None,
    public_key: bytes | None,
    witnesses: list[Path] | None = None,
    *,
    allow_unanchored: bool = False,
) -> VerifyReport:
    with reporting_errors():
        verifier = _verifier(load_settings(home=home), public_key=public_key)
        for folder in witnesses or []:
            _add_witness(verifier, folder)
    try:
        with Progress(
            TextColumn("verifying"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        ) as bar:
            task = bar.add_task("records", total=None)
            return verifier.verify(
                progress=lambda n: bar.update(task, completed=n) if n % 1000 == 0 else None,
                allow_unanchored=allow_unanchored,
            )
    finally:
        verifier.close()


def _add_witness(verifier: Auditor, folder: Path) -> None:
    """Check the checkpoints an outside witness holds of this ledger too (never fewer)."""
    from phasedcare.service.witnessing import WitnessState  # noqa: PLC0415 - httpx only here

    held = WitnessState(folder).held_notes(verifier.origin)
    if not held.notes():
        verifier.close()
        fail(f"the witness at {folder} holds no checkpoint of {verifier.origin}")
    verifier.add_note_source(held)


def _verifier(settings: Settings, *, public_key: bytes | None = None) -> Auditor:
    """The public-key-only verifier (bootstrap imported here, so `--help` stays fast)."""
    from phasedcare.bootstrap import build_verifier  # noqa: PLC0415

    return build_verifier(settings, public_key=public_key)


@audit_app.command("verify")
def audit_verify(
    home: HomeOption = None,
    bundle: Annotated[
        Path | None, typer.Option(help="Verify an exported bundle instead of the database.")
    ] = None,
    public_key: Annotated[
        str | None,
        typer.Option(
            help="The checkpoint public key, as a verifier key (name+id+key) or hex; "
            "default the home's checkpoint.pub."
        ),
    ] = None,
    as_json: JsonOption = False,
    witness: Annotated[
        list[Path] | None,
        typer.Option(
            "--witness",
            help="An outside witness's state folder: the checkpoints it holds are checked "
            "too (repeatable).",
        ),
    ] = None,
    allow_unanchored: Annotated[
        bool,
        typer.Option(
            help="Accept records no signed checkpoint covers yet (a live ledger's newest "
            "commits); they are still counted."
        ),
    ] = False,
) -> None:
    """Check every hash, authenticity, the tree, the map of case heads and every signed
    checkpoint; exit 1 at the first bad record, or when records are unanchored."""
    key = _hex(public_key) if public_key else None
    if bundle and witness:
        fail("--witness checks the database's ledger, not a bundle")
    report = (
        _verify_bundle(bundle, key)
        if bundle
        else _verify_with_progress(home, key, witness, allow_unanchored=allow_unanchored)
    )
    if as_json:
        emit_json(report.as_json())
    else:
        say(report.summary())
    if not report.intact:
        raise typer.Exit(1)


def _verify_bundle(path: Path, key: bytes | None) -> VerifyReport:
    """Verify an exported bundle with the auditor's public key (never one from the bundle)."""
    if key is None:
        fail("--bundle needs --public-key: the key you trust, not one the bundle brings")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"{path}: not a readable bundle ({type(exc).__name__})")
    return verify_bundle(data, public=key)


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option(help="The bundle file to write.")],
    case: Annotated[str | None, typer.Option(help="Export one case with inclusion proofs.")] = None,
    actor: ActorOption = "",
    home: HomeOption = None,
) -> None:
    """Export sealed records and signed checkpoints for an auditor to verify elsewhere."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        data = engine.export_case(case, actor=who) if case else engine.export_ledger(actor=who)
    out.write_text(json.dumps(data, indent=1), encoding="utf-8")
    console.print(f"wrote {len(data['records'])} sealed records to {out}", soft_wrap=True)


def _hex(text: str) -> bytes:
    """The public key of ``--public-key``: a verifier key, or (as before) hexadecimal."""
    if "+" in text:
        from phasedcare.ledger.notes import parse_verifier_key  # noqa: PLC0415

        try:
            return parse_verifier_key(text)[1]
        except ValueError as exc:
            fail(f"--public-key: {exc}")
    try:
        return bytes.fromhex(text)
    except ValueError:
        fail("--public-key must be a verifier key (name+id+key) or hexadecimal")


@audit_app.command("consistency")
def audit_consistency(
    first: Annotated[int, typer.Argument(help="The older checkpoint's tree size.")],
    second: Annotated[int, typer.Argument(help="The newer checkpoint's tree size.")],
    home: HomeOption = None,
) -> None:
    """Prove that the newer signed checkpoint extends the older one (nothing removed)."""
    with reporting_errors():
        verifier = _verifier(load_settings(home=home))
    try:
        with reporting_errors():
            older, newer, proof, holds = verifier.consistency(first, second)
    finally:
        verifier.close()
    for node in proof:
        console.print(node.hex())
    verdict = "holds" if holds else "FAILS"
    console.print(f"consistency {older.size} -> {newer.size}: {len(proof)} hashes, {verdict}")
    if not holds:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(home: HomeOption = None) -> None:
    """Integrate new records into the tree and sign a checkpoint now."""
    with open_engine(home) as engine, reporting_errors():
        assert engine.auditor is not None  # noqa: S101 - bootstrap always wires one
        checkpoint = engine.auditor.checkpoint()
    if checkpoint is None:
        console.print("the ledger is empty: nothing to sign")
        return
    console.print(
        f"checkpoint signed: {checkpoint.size} records, root {checkpoint.root.hex()}",
        soft_wrap=True,
    )


@audit_app.command("public-key")
def audit_public_key(home: HomeOption = None) -> None:
    """Print the origin and checkpoint public key an auditor verifies with: in hex, and as
    the verifier key (``<origin>+<key id>+<base64 key>``) transparency-log tools read."""
    with reporting_errors():
        verifier = _verifier(load_settings(home=home))
    console.print(
        f"{verifier.origin} {verifier.public_key.hex()} {verifier.verifier_key}",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )
    verifier.close()


def _state_summary(state: CaseState) -> dict[str, object]:
    return {
        "case_id": state.case_id,
        "sequence": state.sequence,
        "at": state.updated_at.isoformat() if state.updated_at else None,
        "phase": state.phase,
        "vt_stage": state.vt_stage,
        "regie": {
            "organisation": state.regie.organisation,
            "casusregisseur": state.regie.casusregisseur,
        },
        "conditions": [
            {"id": c.condition_id, "status": str(c.status), "owner": c.owner}
            for c in state.conditions.values()
        ],
        "policy_version": state.policy_version,
    }


@audit_app.command("replay")
def audit_replay(
    case_id: CaseArg,
    seq: Annotated[
        int | None, typer.Option("--seq", min=1, help="Replay up to this record.")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Replay up to this moment (ISO 8601 with a timezone)."),
    ] = None,
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """The case as it stood at a record or a moment: decrypted and folded, never re-decided."""
    who = parse_actor(actor)
    moment = _moment(at) if at else None
    with open_engine(home) as engine, reporting_errors():
        state = engine.state_at(case_id, actor=who, sequence=seq, at=moment)
        history = [h for h in engine.history(case_id, actor=who) if h.sequence <= state.sequence]
    summary = _state_summary(state)
    if as_json:
        emit_json({**summary, "history": history})
        return
    regie = f"regie {state.regie.organisation} ({state.regie.casusregisseur})"
    where = f"phase {state.phase}, Veilig Thuis {state.vt_stage}, {regie}"
    say(f"case {case_id} after record {state.sequence} ({summary['at']}): {where}")
    table(
        "who did what",
        ["#", "at", "event", "actor", "policy"],
        [
            [
                h.sequence,
                h.at.isoformat(timespec="seconds"),
                h.event_type,
                h.actor,
                h.policy_version,
            ]
            for h in history
        ],
    )


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--at {text!r} is not an ISO 8601 moment")
    if moment.tzinfo is None:
        fail(f"--at {text!r} needs a timezone, e.g. {text}+00:00")
    return moment


@audit_app.command("access")
def audit_access(
    case_id: CaseArg, actor: ActorOption = "", home: HomeOption = None, as_json: JsonOption = False
) -> None:
    """Who read the case, on what basis and from where; who was refused (NEN 7513)."""
    who = parse_actor(actor)
    with open_engine(home) as engine, reporting_errors():
        entries = engine.access_history(case_id, actor=who)
    listing(
        entries,
        as_json=as_json,
        title=f"access to {case_id}",
        columns=["#", "at", "actor", "action", "what", "outcome", "basis", "via", "detail"],
        row=lambda e: [
            e.sequence,
            e.at.isoformat(timespec="seconds"),
            e.actor,
            e.action,
            e.query,
            e.outcome,
            e.legal_basis,
            e.access_point,
            e.detail,
        ],
    )
