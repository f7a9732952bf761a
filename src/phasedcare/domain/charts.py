"""The two statecharts of a case, built with python-statemachine.

The **phase chart** takes a household through the visie gefaseerde ketenzorg::

    aanmelding -> directe veiligheid -> stabiele veiligheid -> herstel -> afgesloten
                        ^------------ terugval -------------/         |
    afgesloten -- heropenen --> aanmelding <--------------------------/

A case closes from herstel (or from aanmelding); from directe or stabiele veiligheid only with
a reason, once Veilig Thuis has ended its involvement or while it holds regie.

The **Veilig Thuis chart** follows a melding or an advies through the veiligheidsbeoordeling,
one of its six outcomes, onderzoek, monitoring and closure. From voorwaarden en vervolg,
overdracht and monitoring Veilig Thuis scales up (onderzoek, voorwaarden en vervolg, verzoek
aan de Raad) with a reason, without closing its track. Monitoring begins when the overdracht
is accepted or with the decision voorwaarden en vervolg (:func:`~phasedcare.domain.deadlines.
monitoring_start`); ``start_monitoring`` then moves the stage, never while Veilig Thuis holds
regie itself after an overdracht, and ``vt_afsluiten`` waits for every monitoring moment.

Both are ``StateMachine`` subclasses (a refused event raises) bound to a scratch model
holding the case's stored state value. Their validators run the named rules of
:mod:`phasedcare.domain.rules`; a refusal lists every rule that failed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, ClassVar

from statemachine import State, StateMachine
from statemachine.exceptions import TransitionNotAllowed
from statemachine.transition_list import TransitionList

from phasedcare.domain.case import CaseState
from phasedcare.domain.context import DecisionContext
from phasedcare.domain.rules import (
    EARLY_CLOSURE_PHASES,
    PHASE_RULES,
    VT_RULES,
    Rule,
    failures,
    label,
)
from phasedcare.domain.vt_outcome import FOLLOW_UP_OF_TARGET, OnderzoekGround
from phasedcare.errors import InvalidInput, TransitionRefused

__all__ = [
    "CHARTS",
    "REASON_REQUIRED",
    "SCALING_UP_FROM",
    "PhaseChart",
    "Taxatie",
    "TransitionOption",
    "VeiligThuisChart",
    "fire",
    "needs_reason",
    "options",
]

_CHECK = "check_rules"


def _to(target: State, *sources: State) -> TransitionList:
    """One event's transitions from each of ``sources`` to ``target``, each rule-checked."""
    transitions: TransitionList = sources[0].to(target, validators=_CHECK)
    for source in sources[1:]:
        transitions |= source.to(target, validators=_CHECK)
    return transitions


class _CaseChart(StateMachine):
    """Shared machinery: bind to a case's state value and check the rules of each event."""

    chart_field: ClassVar[str]
    rules: ClassVar[dict[str, tuple[Rule, ...]]]

    def __init__(self, *, case: CaseState, ctx: DecisionContext, value: str) -> None:
        self._case = case
        self._ctx = ctx
        self.scratch = SimpleNamespace(**{self.chart_field: value})
        super().__init__(model=self.scratch, state_field=self.chart_field)

    def bind(self, *, case: CaseState, ctx: DecisionContext, value: str) -> None:
        """Point this machine at another case and state (the machine reads the model's value)."""
        self._case = case
        self._ctx = ctx
        setattr(self.scratch, self.chart_field, value)

    def check_rules(self, event: Any, **_: Any) -> None:
        """Validator: raise TransitionRefused naming every rule that fails for ``event``."""
        name = str(event)
        failed = failures(self.rules[name], self._case, self._ctx)
        if failed:
            raise TransitionRefused(
                case_id=self._case.case_id,
                chart=type(self).__name__,
                event=name,
                state=label(getattr(self.scratch, self.chart_field)),
                reasons=failed,
            )


class PhaseChart(_CaseChart):
    """The phases of the visie gefaseerde ketenzorg."""

    chart_field = "phase"
    rules = PHASE_RULES

    aanmelding = State("aanmelding", initial=True, value="aanmelding")
    directe_veiligheid = State("directe veiligheid", value="directe_veiligheid")
    stabiele_veiligheid = State("stabiele veiligheid", value="stabiele_veiligheid")
    herstel = State("herstel", value="herstel")
    afgesloten = State("afgesloten", value="afgesloten")

    start_directe_veiligheid = aanmelding.to(directe_veiligheid, validators=_CHECK)
    naar_stabiele_veiligheid = directe_veiligheid.to(stabiele_veiligheid, validators=_CHECK)
    naar_herstel = stabiele_veiligheid.to(herstel, validators=_CHECK)
    terugval = stabiele_veiligheid.to(directe_veiligheid, validators=_CHECK) | herstel.to(
        directe_veiligheid, validators=_CHECK
    )
    afsluiten = _to(afgesloten, aanmelding, directe_veiligheid, stabiele_veiligheid, herstel)
    heropenen = afgesloten.to(aanmelding, validators=_CHECK)


class VeiligThuisChart(_CaseChart):
    """The Veilig Thuis process: advies or melding, assessment, outcome, monitoring."""

    chart_field = "vt_stage"
    rules = VT_RULES

    advies = State("advies", initial=True, value="advies")
    melding = State("melding", value="melding")
    veiligheidsbeoordeling = State("veiligheidsbeoordeling", value="veiligheidsbeoordeling")
    overdracht = State("overdracht", value="overdracht")
    voorwaarden_en_vervolg = State("voorwaarden en vervolg", value="voorwaarden_en_vervolg")
    onderzoek = State("onderzoek", value="onderzoek")
    verzoek_rvdk = State("verzoek RvdK", value="verzoek_rvdk")
    omgezet_naar_advies = State("omgezet naar advies", value="omgezet_naar_advies")
    einde_bemoeienis = State("einde bemoeienis", value="einde_bemoeienis")
    monitoring = State("monitoring", value="monitoring")
    afgesloten = State("afgesloten", value="afgesloten")

    start_veiligheidsbeoordeling = melding.to(veiligheidsbeoordeling, validators=_CHECK)
    omzetten_naar_melding = advies.to(melding, validators=_CHECK)
    advies_afronden = advies.to(afgesloten, validators=_CHECK)
    besluit_overdracht = veiligheidsbeoordeling.to(overdracht, validators=_CHECK) | onderzoek.to(
        overdracht, validators=_CHECK
    )
    # Scaling up: from voorwaarden en vervolg, overdracht and monitoring (with a reason).
    besluit_voorwaarden_en_vervolg = _to(
        voorwaarden_en_vervolg, veiligheidsbeoordeling, onderzoek, overdracht, monitoring
    )
    besluit_onderzoek = _to(
        onderzoek, veiligheidsbeoordeling, voorwaarden_en_vervolg, overdracht, monitoring
    )
    besluit_verzoek_rvdk = _to(
        verzoek_rvdk,
        veiligheidsbeoordeling,
        onderzoek,
        voorwaarden_en_vervolg,
        overdracht,
        monitoring,
    )
    besluit_omzetten_naar_advies = veiligheidsbeoordeling.to(omgezet_naar_advies, validators=_CHECK)
    besluit_einde_bemoeienis = veiligheidsbeoordeling.to(
        einde_bemoeienis, validators=_CHECK
    ) | onderzoek.to(einde_bemoeienis, validators=_CHECK)
    start_monitoring = (
        overdracht.to(monitoring, validators=_CHECK)
        | voorwaarden_en_vervolg.to(monitoring, validators=_CHECK)
        | verzoek_rvdk.to(monitoring, validators=_CHECK)
    )
    vt_afsluiten = (
        monitoring.to(afgesloten, validators=_CHECK)
        | verzoek_rvdk.to(afgesloten, validators=_CHECK)
        | omgezet_naar_advies.to(afgesloten, validators=_CHECK)
        | einde_bemoeienis.to(afgesloten, validators=_CHECK)
    )
    nieuwe_melding = afgesloten.to(melding, validators=_CHECK)


CHARTS: dict[str, type[_CaseChart]] = {"phase": PhaseChart, "vt": VeiligThuisChart}
"""The charts by the short name commands use."""

REASON_REQUIRED = frozenset(
    {
        "terugval",
        "heropenen",
        "nieuwe_melding",
        "besluit_einde_bemoeienis",
        "besluit_omzetten_naar_advies",
    }
)
"""Events that must say why wherever they fire: the trigger of a terugval, the motivation for
ending Veilig Thuis's involvement or turning a melding into an advies."""

SCALING_UP_FROM = frozenset({"voorwaarden_en_vervolg", "overdracht", "monitoring"})
"""Veilig Thuis stages after a decision: a new decision from one of them (scaling up) needs a
reason, as does closing a case early (from :data:`EARLY_CLOSURE_PHASES`)."""

_ONDERZOEK = "besluit_onderzoek"
_ASSESSMENT = "veiligheidsbeoordeling"


@dataclass(frozen=True, slots=True)
class Taxatie:
    """The veiligheidstaxatie a Veilig Thuis decision records; ``None``: not given."""

    acute_onveiligheid: bool | None = None
    structurele_onveiligheid: bool | None = None

    @property
    def given(self) -> bool:
        """True when either judgement is given."""
        return self.acute_onveiligheid is not None or self.structurele_onveiligheid is not None

    @property
    def complete(self) -> bool:
        """True when both judgements are given."""
        return self.acute_onveiligheid is not None and self.structurele_onveiligheid is not None


@dataclass(frozen=True, slots=True)
class TransitionOption:
    """One event of a chart and whether it may fire now, with the reasons it may not, and
    what it needs besides: a reason, a veiligheidstaxatie, an onderzoek ground."""

    chart: str
    event: str
    target: str | None
    allowed: bool
    reasons: tuple[tuple[str, str], ...]
    needs_reason: bool
    needs_taxatie: bool = False
    needs_ground: bool = False


def needs_reason(chart_name: str, event: str, source: str) -> bool:
    """Whether ``event`` fired from ``source`` must say why."""
    if event in REASON_REQUIRED:
        return True
    if chart_name == "vt":
        return source in SCALING_UP_FROM and event.startswith("besluit_")
    return event == "afsluiten" and source in EARLY_CLOSURE_PHASES


def _is_decision(chart_name: str, target: str) -> bool:
    return chart_name == "vt" and target in FOLLOW_UP_OF_TARGET


def _needs_taxatie(chart_name: str, source: str, target: str) -> bool:
    return _is_decision(chart_name, target) and source == _ASSESSMENT


def _transitions_from(chart: type[_CaseChart], value: str) -> dict[str, str]:
    """Event name -> target value for the transitions leaving the state ``value``."""
    state = next((s for s in chart.states if s.value == value), None)
    if state is None:
        msg = f"stored {chart.chart_field} {value!r} is not a state of {chart.__name__}"
        raise InvalidInput(msg, field=chart.chart_field)
    return {event.id: t.target.value for t in state.transitions for event in t.events}


def _chart(name: str) -> type[_CaseChart]:
    if name not in CHARTS:
        raise InvalidInput(f"unknown chart {name!r}; expected one of: phase, vt", field="chart")
    return CHARTS[name]


def _check_event(chart: type[_CaseChart], event: str, reason: str) -> None:
    if event not in chart.rules:
        known = ", ".join(chart.rules)
        # The name is not repeated: it is the client's text, not one of ours.
        raise InvalidInput(
            f"unknown event of the {chart.chart_field} chart; known events: {known}", field="event"
        )
    if event in REASON_REQUIRED and not reason.strip():
        raise InvalidInput(f"{event} needs a reason", field="reason")


def _check_particulars(
    chart_name: str,
    move: tuple[str, str, str],
    reason: str,
    taxatie: Taxatie,
    ground: OnderzoekGround | None,
) -> None:
    """What the event needs from where it fires: a reason, the taxatie, the ground."""
    event, source, target = move
    if needs_reason(chart_name, event, source) and not reason.strip():
        raise InvalidInput(f"{event} from {label(source)} needs a reason", field="reason")
    if taxatie.given and not _is_decision(chart_name, target):
        raise InvalidInput(
            f"{event} is no Veilig Thuis decision: it records no veiligheidstaxatie",
            field="acute_onveiligheid",
        )
    if (taxatie.given or _needs_taxatie(chart_name, source, target)) and not taxatie.complete:
        missing = (
            "acute_onveiligheid"
            if taxatie.acute_onveiligheid is None
            else "structurele_onveiligheid"
        )
        raise InvalidInput(
            f"{event} from {label(source)} records the veiligheidstaxatie: give both "
            "acute_onveiligheid and structurele_onveiligheid (each yes or no)",
            field=missing,
        )
    if event == _ONDERZOEK and ground is None:
        grounds = ", ".join(OnderzoekGround)
        raise InvalidInput(
            f"{event} needs a ground (onderzoek_ground): one of {grounds}",
            field="onderzoek_ground",
        )
    if event != _ONDERZOEK and ground is not None:
        raise InvalidInput(f"only {_ONDERZOEK} takes a ground", field="onderzoek_ground")


def fire(
    chart_name: str,
    case: CaseState,
    event: str,
    ctx: DecisionContext,
    *,
    reason: str = "",
    taxatie: Taxatie | None = None,
    ground: OnderzoekGround | None = None,
) -> tuple[str, str]:
    """Fire ``event`` on a scratch copy of the case's chart; return (source, target).

    Raises:
        InvalidInput: an unknown chart or event, or a missing reason, taxatie or ground.
        TransitionRefused: the event is not possible now; every failing rule is listed.
    """
    chart = _chart(chart_name)
    _check_event(chart, event, reason)
    source = getattr(case, chart.chart_field)
    targets = _transitions_from(chart, source)
    if event not in targets:
        raise _not_from_state(chart_name, case, event, source)
    _check_particulars(
        chart_name, (event, source, targets[event]), reason, taxatie or Taxatie(), ground
    )
    machine = _machine(chart, case=case, ctx=ctx, value=source)
    try:
        machine.send(event, reason=reason)
    except TransitionNotAllowed as exc:  # pragma: no cover - excluded by the check above
        raise _not_from_state(chart_name, case, event, source) from exc
    return source, str(getattr(machine.scratch, chart.chart_field))


_MACHINES = threading.local()
"""One machine per chart and thread, rebound for each event: building a python-statemachine
machine costs more than sending it an event, and a command fires on a scratch value anyway."""


def _machine(
    chart: type[_CaseChart], *, case: CaseState, ctx: DecisionContext, value: str
) -> _CaseChart:
    machines: dict[type[_CaseChart], _CaseChart] = _MACHINES.__dict__.setdefault("by_chart", {})
    machine = machines.get(chart)
    if machine is None:
        machine = machines[chart] = chart(case=case, ctx=ctx, value=value)
    else:
        machine.bind(case=case, ctx=ctx, value=value)
    return machine


def _not_from_state(chart_name: str, case: CaseState, event: str, source: str) -> TransitionRefused:
    chart = CHARTS[chart_name]
    origins = sorted(
        {label(s.value) for s in chart.states for t in s.transitions if event in t.events}
    )
    return TransitionRefused(
        case_id=case.case_id,
        chart=chart.__name__,
        event=event,
        state=label(source),
        reasons=[
            ("not_from_state", f"{event} is possible only from: {', '.join(origins)}"),
        ],
    )


def options(chart_name: str, case: CaseState, ctx: DecisionContext) -> list[TransitionOption]:
    """Every event of the chart, whether it may fire now, and why not."""
    chart = _chart(chart_name)
    source = getattr(case, chart.chart_field)
    targets = _transitions_from(chart, source)
    result = []
    for event, rules in chart.rules.items():
        if event in targets:
            reasons = tuple(failures(rules, case, ctx))
        else:
            reasons = tuple(_not_from_state(chart_name, case, event, source).reasons)
        target = targets.get(event)
        result.append(
            TransitionOption(
                chart=chart_name,
                event=event,
                target=target,
                allowed=not reasons,
                reasons=reasons,
                needs_reason=needs_reason(chart_name, event, source),
                needs_taxatie=target is not None and _needs_taxatie(chart_name, source, target),
                needs_ground=event == _ONDERZOEK,
            )
        )
    return result
