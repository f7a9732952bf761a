"""What Veilig Thuis decides after a veiligheidsbeoordeling: the veiligheidstaxatie, the
follow-up, and the ground of an onderzoek.

A decision of the Veilig Thuis chart (``besluit_*``) that concludes a veiligheidsbeoordeling
records the veiligheidstaxatie: acute onveiligheid and structurele onveiligheid, each yes or
no, as CBS counts the outcome of every melding (84852NED). The follow-up is the decision itself,
counted in CBS's four categories. Decisions recorded before the taxatie existed read as "not
recorded" (``None``): events are facts and are never filled in afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = [
    "ENDS_INVOLVEMENT",
    "FOLLOW_UP_OF_TARGET",
    "FollowUp",
    "OnderzoekGround",
    "VtDecision",
    "ZichtMeans",
    "ended_involvement",
    "latest_conclusion",
]


class OnderzoekGround(StrEnum):
    """The five grounds of the Handelingsprotocol (2019) for a Veilig Thuis onderzoek.

    The stored value is a stable id; :attr:`label` gives the professional's words.
    """

    directe_interventie_nodig = "directe_interventie_nodig"
    vermoeden_onzeker = "vermoeden_onzeker"
    ontkenning_of_weigering = "ontkenning_of_weigering"
    te_weinig_informatie = "te_weinig_informatie"
    anonimiteit_melder = "anonimiteit_melder"

    @property
    def label(self) -> str:
        """The ground in the professional's words."""
        return _GROUND_LABELS[self]


_GROUND_LABELS = {
    OnderzoekGround.directe_interventie_nodig: "directe interventie is nodig",
    OnderzoekGround.vermoeden_onzeker: "onduidelijk of er sprake is van huiselijk geweld of "
    "kindermishandeling",
    OnderzoekGround.ontkenning_of_weigering: "ontkenning of weigering door de betrokkenen",
    OnderzoekGround.te_weinig_informatie: "te weinig informatie om te beoordelen",
    OnderzoekGround.anonimiteit_melder: "de melder is anonimiteit toegezegd",
}


class FollowUp(StrEnum):
    """The follow-up decided, in the categories CBS counts the outcome of a melding in."""

    vervolgstappen_bij_veilig_thuis = "vervolgstappen_bij_veilig_thuis"
    overdracht = "overdracht"
    geen_vervolgstappen = "geen_vervolgstappen"
    omzetten_naar_advies = "omzetten_naar_advies"


class ZichtMeans(StrEnum):
    """How zicht op veiligheid is kept while a melding waits for its veiligheidsbeoordeling
    (the IGJ's wachtlijst finding: who keeps an eye on the family, and how)."""

    contact_met_melder = "contact_met_melder"
    contact_met_gezin = "contact_met_gezin"
    betrokken_professional = "betrokken_professional"
    veiligheidsafspraken = "veiligheidsafspraken"


FOLLOW_UP_OF_TARGET: dict[str, FollowUp] = {
    "onderzoek": FollowUp.vervolgstappen_bij_veilig_thuis,
    "voorwaarden_en_vervolg": FollowUp.vervolgstappen_bij_veilig_thuis,
    "verzoek_rvdk": FollowUp.vervolgstappen_bij_veilig_thuis,
    "overdracht": FollowUp.overdracht,
    "einde_bemoeienis": FollowUp.geen_vervolgstappen,
    "omgezet_naar_advies": FollowUp.omzetten_naar_advies,
}
"""The Veilig Thuis stages a decision leads to, and how CBS counts each. A verzoek aan de
Raad is counted with Veilig Thuis's own vervolgstappen (our reading of 84852NED)."""

ENDS_INVOLVEMENT = frozenset({"einde_bemoeienis", "omgezet_naar_advies"})
"""Decisions (by their target stage) with which Veilig Thuis ends its involvement."""


@dataclass(frozen=True, slots=True)
class VtDecision:
    """One decision on the Veilig Thuis track: where it led from where, when, and why.

    Attributes:
        event: the chart event (``besluit_overdracht``, ...).
        source: the stage it was decided in; ``veiligheidsbeoordeling`` for its conclusion.
        target: the stage it led to.
        decided_at: when it was decided.
        acute_onveiligheid: the taxatie's acute onveiligheid; ``None`` when not recorded.
        structurele_onveiligheid: the taxatie's structurele onveiligheid; ``None`` likewise.
        onderzoek_ground: the Handelingsprotocol ground of an onderzoek; ``None`` for other
            decisions and for onderzoeken decided before grounds were closed choices (their
            free text stays in ``reason``).
        reason: the motivation given.
    """

    event: str
    source: str
    target: str
    decided_at: datetime
    acute_onveiligheid: bool | None = None
    structurele_onveiligheid: bool | None = None
    onderzoek_ground: OnderzoekGround | None = None
    reason: str = ""

    @property
    def follow_up(self) -> FollowUp:
        """The follow-up as CBS counts it."""
        return FOLLOW_UP_OF_TARGET[self.target]


def latest_conclusion(decisions: list[VtDecision]) -> VtDecision | None:
    """The decision that concluded the latest veiligheidsbeoordeling, if any."""
    return next((d for d in reversed(decisions) if d.source == "veiligheidsbeoordeling"), None)


def ended_involvement(decisions: list[VtDecision]) -> bool:
    """True when Veilig Thuis's latest decision ended its involvement."""
    return bool(decisions) and decisions[-1].target in ENDS_INVOLVEMENT
