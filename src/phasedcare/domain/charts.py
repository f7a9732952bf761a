"""The two statecharts of a case, built with python-statemachine.

The **phase chart** takes a household through the visie gefaseerde ketenzorg::

    aanmelding -> directe veiligheid -> stabiele veiligheid -> herstel -> afgesloten
                        ^------------ terugval -------------/         |
    afgesloten -- heropenen --> aanmelding <--------------------------/

The **Veilig Thuis chart** follows a melding or an advies through the veiligheidsbeoordeling,
one of its six outcomes, onderzoek, monitoring and closure.

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

from phasedcare.domain.case import CaseState
from phasedcare.domain.context import DecisionContext
from phasedcare.domain.rules import PHASE_RULES, VT_RULES, Rule, failures, label
from phasedcare.errors import InvalidInput, TransitionRefused

__all__ = [
    "CHARTS",
    "REASON_REQUIRED",
    "PhaseChart",
    "TransitionOption",
    "VeiligThuisChart",
    "fire",
    "options",
]

_CHECK = "check_rules"


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
    afsluiten = aanmelding.to(afgesloten, validators=_CHECK) | herstel.to(
        afgesloten, validators=_CHECK
    )
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
    besluit_voorwaarden_en_vervolg = veiligheidsbeoordeling.to(
        voorwaarden_en_vervolg, validators=_CHECK
    ) | onderzoek.to(voorwaarden_en_vervolg, validators=_CHECK)
    besluit_onderzoek = veiligheidsbeoordeling.to(onderzoek, validators=_CHECK)
    besluit_verzoek_rvdk = veiligheidsbeoordeling.to(
        verzoek_rvdk, validators=_CHECK
    ) | onderzoek.to(verzoek_rvdk, validators=_CHECK)
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

REASON_REQUIRED = frozenset({"terugval", "heropenen", "besluit_onderzoek", "nieuwe_melding"})
"""Events that must say why: the trigger of a terugval, the ground for an onderzoek."""


@dataclass(frozen=True, slots=True)
class TransitionOption:
    """One event of a chart and whether it may fire now, with the reasons it may not."""

    chart: str
    event: str
    target: str | None
    allowed: bool
    reasons: tuple[tuple[str, str], ...]
    needs_reason: bool


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


def fire(
    chart_name: str, case: CaseState, event: str, ctx: DecisionContext, *, reason: str = ""
) -> tuple[str, str]:
    """Fire ``event`` on a scratch copy of the case's chart; return (source, target).

    Raises:
        InvalidInput: an unknown chart or event, or a missing reason.
        TransitionRefused: the event is not possible now; every failing rule is listed.
    """
    chart = _chart(chart_name)
    _check_event(chart, event, reason)
    source = getattr(case, chart.chart_field)
    targets = _transitions_from(chart, source)
    if event not in targets:
        raise _not_from_state(chart_name, case, event, source)
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
        result.append(
            TransitionOption(
                chart=chart_name,
                event=event,
                target=targets.get(event),
                allowed=not reasons,
                reasons=reasons,
                needs_reason=event in REASON_REQUIRED,
            )
        )
    return result
