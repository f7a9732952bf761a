"""The console's words: Dutch first, English second, chosen per user.

Each key has its Dutch and English text. A key of a family that names the engine's own ids
(``state.``, ``event.``, ``eventtype.``, ``kind.`` and the like) falls back to the id itself,
with spaces for underscores: those ids are Dutch already (``directe veiligheid``), so a
new state or event reads well before it has words of its own. A test keeps both languages
complete for every key the templates name literally.
"""

from __future__ import annotations

__all__ = ["LANGUAGES", "MESSAGES", "labels_of", "translate"]

LANGUAGES = ("nl", "en")
"""The languages the console speaks, the default first."""

_BOTH: dict[str, tuple[str, str]] = {
    # the frame
    "skip": ("Naar de inhoud", "Skip to content"),
    "nav.label": ("Hoofdmenu", "Main menu"),
    "nav.caseload": ("Caseload", "Caseload"),
    "nav.inbox": ("Overdrachten", "Handovers"),
    "nav.board": ("Verplichtingen", "Obligations"),
    "nav.audit": ("Audit", "Audit"),
    "nav.breakglass": ("Noodtoegang", "Break-glass"),
    "title.breakglass": ("Noodtoegang", "Break-glass access"),
    "breakglass.use": (
        "Een zaak openen zonder andere grondslag",
        "Open a case without another basis",
    ),
    "breakglass.intro": (
        "Alleen in een noodsituatie. De reden wordt verzegeld vastgelegd, de raadpleging staat "
        "in het toegangslogboek als noodtoegang en Veilig Thuis beoordeelt haar binnen vijf "
        "werkdagen.",
        "For emergencies only. The reason is recorded sealed, the read is marked as break-glass "
        "in the access log and Veilig Thuis reviews it within five working days.",
    ),
    "breakglass.reason": (
        "Reden (waarom nu, zonder andere grondslag)",
        "Reason (why now, with no other basis)",
    ),
    "breakglass.open": ("Open de zaak met noodtoegang", "Open the case with break-glass access"),
    "breakglass.queue": ("Noodtoegang om te beoordelen", "Break-glass uses to review"),
    "breakglass.none": ("Geen noodtoegang om te beoordelen.", "No break-glass use to review."),
    "breakglass.justified": ("terecht", "justified"),
    "breakglass.unjustified": ("niet terecht", "unjustified"),
    "breakglass.review": ("Beoordeel", "Review"),
    "breakglass.shown": (
        "U ziet deze zaak met noodtoegang: alleen lezen; Veilig Thuis beoordeelt deze raadpleging.",
        "You see this case with break-glass access: read only; Veilig Thuis reviews this read.",
    ),
    "signed_in_as": ("Aangemeld als", "Signed in as"),
    "language": ("Taal", "Language"),
    "language.nl": ("Nederlands", "Nederlands (Dutch)"),
    "language.en": ("English (Engels)", "English"),
    "language.choose": ("Kies taal", "Choose language"),
    "sign_out": ("Afmelden", "Sign out"),
    "footer": (
        "phasedcare: gefaseerde ketenzorg. Elke pagina met zaakgegevens wordt vastgelegd in "
        "het toegangslogboek (NEN 7513).",
        "phasedcare: phased safety care. Every page with case data is recorded in the access "
        "log (NEN 7513).",
    ),
    "title.caseload": ("Caseload", "Caseload"),
    "title.case": ("Zaak", "Case"),
    "title.inbox": ("Overdrachten", "Handovers"),
    "title.handover": ("Overdracht", "Handover"),
    "title.board": ("Verplichtingen", "Obligations"),
    "title.audit": ("Audit en verificatie", "Audit and verification"),
    "title.replay": ("Geschiedenis van zaak", "History of case"),
    "title.access": ("Toegangslogboek van zaak", "Access log of case"),
    "title.signin": ("Aanmelden", "Sign in"),
    "title.error": ("Dat lukte niet", "That did not work"),
    "role.professional": ("professional", "professional"),
    "role.auditor": ("auditor", "auditor"),
    "role.system": ("systeem", "system"),
    "role.integration_admin": ("integratiebeheerder", "integration admin"),
    # sign-in
    "signin.how": (
        "Meld u aan met de eenmalige link die phasedcare serve bij het starten toont, of via "
        "de identiteitsprovider van uw organisatie.",
        "Sign in with the one-time link phasedcare serve prints when it starts, or through "
        "your organisation's identity provider.",
    ),
    "signin.refused": ("Aanmelden geweigerd:", "Sign-in refused:"),
    "signin.provider": (
        "Aanmelden bij de identiteitsprovider van uw organisatie",
        "Sign in at your organisation's identity provider",
    ),
    # common words
    "acute": ("acuut", "acute"),
    "yes": ("ja", "yes"),
    "no": ("nee", "no"),
    "overdue": ("termijn verstreken", "overdue"),
    "escalated": ("geëscaleerd", "escalated"),
    "waiting": ("wacht op beoordeling", "awaiting assessment"),
    "required": ("verplicht", "required"),
    "respond_by": ("reageren vóór", "respond by"),
    "since": ("sinds", "since"),
    "opened": ("Geopend", "Opened"),
    "version": ("versie", "version"),
    "policy_version": ("beleidsversie", "policy version"),
    "flags": ("Specifieke groepen", "Specific groups"),
    "casusregisseur": ("casusregisseur", "casusregisseur"),
    "none_yet": ("Nog niets vastgelegd.", "Nothing recorded yet."),
    "refused": ("Geweigerd, er is niets vastgelegd:", "Refused, nothing was recorded:"),
    "back_to_caseload": ("Terug naar de caseload", "Back to the caseload"),
    "next_page": ("Volgende pagina", "Next page"),
    "notice.done": ("Vastgelegd: {events}.", "Recorded: {events}."),
    "via.melding": ("melding", "melding (report)"),
    "via.advies": ("advies", "advies (advice)"),
    # caseload
    "caseload.intro": (
        "Acute zaken eerst, daarna op zaaknummer. Namen staan nooit in deze lijst.",
        "Acute cases first, then by case number. Names never appear in this list.",
    ),
    "caseload.caption": ("Zaken in uw caseload", "Cases in your caseload"),
    "caseload.empty": ("Geen zaken gevonden.", "No cases found."),
    "filter": ("Toon", "Show"),
    "filter.all": ("alle zaken", "all cases"),
    "filter.apply": ("Toon", "Show"),
    "filter.mine": ("regie bij mijn organisatie", "regie with my organisation"),
    "filter.te-laat": ("termijn verstreken", "past their term"),
    "filter.directe_veiligheid": ("fase directe veiligheid", "phase directe veiligheid"),
    "filter.stabiele_veiligheid": ("fase stabiele veiligheid", "phase stabiele veiligheid"),
    "filter.herstel": ("fase herstel", "phase herstel"),
    "col.case": ("Zaak", "Case"),
    "col.acute": ("Acuut", "Acute"),
    "col.phase": ("Fase", "Phase"),
    "col.vt_stage": ("Veilig Thuis", "Veilig Thuis"),
    "col.regie": ("Regie", "Regie"),
    "col.days_open": ("Dagen open", "Days open"),
    "col.next": ("Volgende verplichting", "Next obligation"),
    "col.zicht": ("Zicht op veiligheid", "Zicht op veiligheid"),
    "col.handovers": ("Open overdrachten", "Open handovers"),
    "col.obligation": ("Verplichting", "Obligation"),
    "col.responsible": ("Verantwoordelijk", "Responsible"),
    "col.due": ("Uiterlijk", "Due"),
    "col.status": ("Stand", "Status"),
    "col.source": ("Bron", "Source"),
    "col.melding": ("Melding", "Melding"),
    "col.received": ("Ontvangen", "Received"),
    "col.taxatie": ("Veiligheidstaxatie", "Veiligheidstaxatie"),
    "col.follow_up": ("Vervolg", "Follow-up"),
    "col.condition": ("Voorwaarde", "Condition"),
    "col.last_check": ("Laatst gecontroleerd", "Last checked"),
    "col.handover": ("Overdracht", "Handover"),
    "col.from": ("Van", "From"),
    "col.purpose": ("Doel", "Purpose"),
    "zicht.none": ("niet georganiseerd", "not arranged"),
    "zicht.until": ("tot en met", "until"),
    # case page
    "case.heading": ("Zaak", "Case"),
    "case.now": ("Wat kan ik nu doen", "What can I do now"),
    "case.possible": ("Nu mogelijk", "Possible now"),
    "case.blocked": ("Nu nog niet mogelijk, en waarom", "Not possible yet, and why"),
    "case.nothing": ("Vanuit deze stand is niets mogelijk.", "Nothing is possible from here."),
    "case.record": ("Vastleggen", "Record"),
    "case.charts": ("Fasen en Veilig Thuis-traject", "Phases and Veilig Thuis track"),
    "chart.phase": ("Fasen van de zaak", "Phases of the case"),
    "chart.vt": ("Traject bij Veilig Thuis", "Veilig Thuis track"),
    "case.obligations": ("Openstaande verplichtingen", "Open obligations"),
    "case.no_obligations": ("Geen openstaande verplichtingen.", "No open obligations."),
    "case.meldingen": ("Meldingen", "Meldingen"),
    "case.conditions": ("Veiligheidsvoorwaarden", "Safety conditions"),
    "case.plan_agreed": ("Veiligheidsplan afgesproken op", "Safety plan agreed on"),
    "case.no_plan": ("Nog geen veiligheidsplan.", "No safety plan yet."),
    "case.risk": ("Veiligheid en risico", "Safety and risk"),
    "case.veiligheidstaxatie": ("Veiligheidstaxatie", "Veiligheidstaxatie (safety)"),
    "case.risicotaxatie": ("Risicotaxatie", "Risicotaxatie (risk)"),
    "case.household": ("Huishouden", "Household"),
    "case.handovers": ("Overdrachten", "Handovers"),
    "case.timeline": ("Tijdlijn", "Timeline"),
    "case.regie_history": ("Regie", "Regie"),
    "case.events": ("Gebeurtenissen", "Events"),
    "condition.met": ("nagekomen", "met"),
    "condition.breached": ("geschonden", "breached"),
    "condition.unknown": ("onbekend", "unknown"),
    "status.open": ("open", "open"),
    "status.escalated": ("geëscaleerd, nog open", "escalated, still open"),
    "status.fulfilled": ("nagekomen", "fulfilled"),
    "status.moot": ("vervallen", "moot"),
    # actions (the slugs of the forms)
    "action.open": ("Nieuwe zaak: melding of advies", "New case: melding or advies"),
    "notice.opened": ("De zaak is geopend.", "The case was opened."),
    "field.via": ("Binnengekomen als", "Came in as"),
    "action.melding": ("Nieuwe melding vastleggen", "Record a new melding"),
    "action.veiligheidsbeoordeling": (
        "Veiligheidsbeoordeling afronden",
        "Conclude the veiligheidsbeoordeling",
    ),
    "action.zicht": ("Zicht op veiligheid organiseren", "Arrange zicht op veiligheid"),
    "action.lid": ("Lid van het huishouden vastleggen", "Record a household member"),
    "action.veiligheidsplan": ("Veiligheidsplan vastleggen", "Record the safety plan"),
    "action.voorwaarde": ("Veiligheidsvoorwaarde toevoegen", "Add a safety condition"),
    "action.voorwaarde-status": (
        "Controle van een voorwaarde vastleggen",
        "Record a condition's check",
    ),
    "action.risico": ("Risicotaxatie vastleggen", "Record a risk assessment"),
    "field.instrument": ("Instrument", "Instrument"),
    "field.instrument_version": ("Versie van het instrument", "Instrument version"),
    "field.level": ("Niveau", "Level"),
    "field.assessed_on": ("Beoordeeld op", "Assessed on"),
    "action.incident": ("Incident vastleggen", "Record an incident"),
    "action.overdracht": ("Overdracht voorstellen", "Propose a handover"),
    "action.monitoring": ("Monitoringsmoment vastleggen", "Record a monitoring moment"),
    "action.vrijstelling": ("Verplichting laten vervallen", "Waive an obligation"),
    "action.casusregisseur": ("Casusregisseur toewijzen", "Assign the casusregisseur"),
    "action.accepteren": ("Accepteren en regie overnemen", "Accept and take over regie"),
    "action.afwijzen": ("Afwijzen", "Reject"),
    "action.intrekken": ("Intrekken", "Withdraw"),
    "action.noodtoegang-beoordelen": ("Noodtoegang beoordelen", "Review a break-glass use"),
    # fields (the commands' own)
    "field.reason": ("Reden", "Reason"),
    "field.acute_onveiligheid": ("Acute onveiligheid", "Acute onveiligheid"),
    "field.structurele_onveiligheid": ("Structurele onveiligheid", "Structurele onveiligheid"),
    "field.onderzoek_ground": ("Grond voor onderzoek", "Ground for onderzoek"),
    "field.melder_kind": ("Soort melder", "Kind of melder"),
    "field.melder_organisation": ("Organisatie van de melder", "Melder's organisation"),
    "field.acute": ("Acuut", "Acute"),
    "field.summary": ("Samenvatting", "Summary"),
    "field.melding_id": ("Melding", "Melding"),
    "field.follow_up": ("Vervolg", "Follow-up"),
    "field.kept_by": ("Wie houdt zicht", "Kept by"),
    "field.means": ("Hoe", "How"),
    "field.until": ("Tot en met", "Until"),
    "field.note": ("Toelichting", "Note"),
    "field.role": ("Rol", "Role"),
    "field.name": ("Naam", "Name"),
    "field.date_of_birth": ("Geboortedatum", "Date of birth"),
    "field.agreed_on": ("Afgesproken op", "Agreed on"),
    "field.agreed_with_household": ("Met het huishouden afgesproken", "Agreed with household"),
    "field.statement": ("Voorwaarde", "Condition"),
    "field.owner": ("Controleert", "Checked by"),
    "field.check_every_days": ("Controle elke (dagen)", "Check every (days)"),
    "field.check_method": ("Hoe gecontroleerd", "How checked"),
    "field.condition_id": ("Voorwaarde", "Condition"),
    "field.status": ("Stand", "Status"),
    "field.observed_on": ("Waargenomen op", "Observed on"),
    "field.evidence": ("Onderbouwing", "Evidence"),
    "field.occurred_on": ("Datum van het incident", "Date of the incident"),
    "field.description": ("Beschrijving", "Description"),
    "field.to_organisation": ("Naar organisatie", "To organisation"),
    "field.safety_conditions": ("Over te dragen voorwaarden", "Conditions handed over"),
    "field.monitoring_agreement": ("Afspraak over monitoring", "Monitoring agreement"),
    "field.risk_summary": ("Samenvatting van het risico", "Risk summary"),
    "field.legal_basis": ("Wettelijke grondslag", "Legal basis"),
    "field.household_informed": ("Huishouden is geïnformeerd", "Household was informed"),
    "field.household_not_informed_reason": (
        "Waarom het huishouden niet is geïnformeerd",
        "Why the household was not informed",
    ),
    "field.respond_by": ("Reageren vóór", "Respond by"),
    "field.checked_on": ("Gecontroleerd op", "Checked on"),
    "field.outcome": ("Uitkomst", "Outcome"),
    "field.obligation_id": ("Verplichting", "Obligation"),
    "field.casusregisseur": ("Casusregisseur (gebruikers-id)", "Casusregisseur (user id)"),
    # the handover inbox and page
    "inbox.incoming": ("Binnengekomen voorstellen", "Incoming proposals"),
    "inbox.none_incoming": ("Geen voorstellen die op u wachten.", "No proposals wait for you."),
    "inbox.open": ("Bekijk", "Open"),
    "inbox.soon": ("binnenkort", "soon"),
    "inbox.sent": ("Verzonden voorstellen", "Sent proposals"),
    "inbox.none_sent": ("Geen openstaande verzonden voorstellen.", "No open sent proposals."),
    "inbox.you_keep_regie": (
        "wacht op acceptatie; u houdt de regie tot acceptatie, uiterlijk",
        "awaiting acceptance; you keep regie until it is accepted, at the latest",
    ),
    "inbox.escalated": ("Verlopen en geëscaleerd", "Expired and escalated"),
    "inbox.none_escalated": ("Geen verlopen overdrachten.", "No expired handovers."),
    "handover.answer": ("Uw antwoord", "Your answer"),
    "handover.proposed": ("voorgesteld", "proposed"),
    "handover.accepted": ("geaccepteerd", "accepted"),
    "handover.rejected": ("afgewezen", "rejected"),
    "handover.withdrawn": ("ingetrokken", "withdrawn"),
    "handover.expired": ("verlopen", "expired"),
    "handover.escalated": ("geëscaleerd", "escalated"),
    "purpose.regie": ("regie", "regie"),
    "purpose.mda_triage": ("MDA++-triage", "MDA++ triage"),
    "purpose.afschalen": ("afschalen", "scaling down"),
    # the obligations board
    "board.caption": ("Openstaande verplichtingen, acute eerst", "Open obligations, acute first"),
    "board.empty": ("Geen openstaande verplichtingen.", "No open obligations."),
    "board.all": ("Toon alle openstaande", "Show all open ones"),
    "board.overdue_only": ("Toon alleen die over hun termijn zijn", "Show only the overdue"),
    # audit
    "audit.checkpoint": ("Laatste ondertekende checkpoint", "Latest signed checkpoint"),
    "audit.no_checkpoint": ("Nog geen checkpoint ondertekend.", "No checkpoint signed yet."),
    "audit.tree_size": ("boomgrootte", "tree size"),
    "audit.note": (
        "Het ondertekende checkpoint (C2SP signed note: oorsprong, boomgrootte, wortel, kaart "
        "van zaakkoppen, handtekeningen), te controleren met de publieke sleutel van "
        "phasedcare audit public-key:",
        "The signed checkpoint (a C2SP signed note: origin, tree size, root, map of case heads, "
        "signatures), checked with the public key phasedcare audit public-key prints:",
    ),
    "audit.verify": ("Het grootboek verifiëren", "Verify the ledger"),
    "audit.verify_intro": (
        "Controleert elk record, de boom, de kaart van zaakkoppen en elke handtekening, "
        "zonder iets te ontsleutelen. Records na het laatste checkpoint tellen als nog niet "
        "verankerd.",
        "Checks every record, the tree, the map of case heads and every signature, without "
        "decrypting anything. Records after the latest checkpoint count as not yet anchored.",
    ),
    "audit.verify_now": ("Verifieer nu", "Verify now"),
    "audit.intact": ("Het grootboek is intact.", "The ledger is intact."),
    "audit.not_intact": ("Het grootboek is NIET intact.", "The ledger is NOT intact."),
    "audit.records": ("records", "records"),
    "audit.cases": ("zaken", "cases"),
    "audit.checkpoints": ("checkpoints", "checkpoints"),
    "audit.unanchored": ("nog niet verankerd", "not yet anchored"),
    "audit.first_problem": ("Eerste probleem:", "First problem:"),
    "audit.case": ("Een zaak naspelen", "Replay a case"),
    "audit.open_case": ("Open", "Open"),
    "audit.access": ("Toegangslogboek", "Access log"),
    "audit.bundle": ("Bundel downloaden (JSON)", "Download bundle (JSON)"),
    "flags.heading": ("Let op bij deze zaak", "Take care in this case"),
    "flagmeans.intieme_terreur": (
        "Intieme terreur: dwang en controle. Eerst maatregelen in het veiligheidsdomein; "
        "bemiddeling is gecontra-indiceerd; het geweld gaat na een scheiding vaak door.",
        "Intieme terreur: coercion and control. Safety-domain measures first; mediation is "
        "contra-indicated; the violence often goes on after a separation.",
    ),
    "flagmeans.eergerelateerd_geweld": (
        "Eergerelateerd geweld: neem niet vroeg contact op met de familie; de politie "
        "raadpleegt het LEC EGG; een eigen variant van de meldcode geldt.",
        "Eergerelateerd geweld: do not contact the family early; the police consult LEC EGG; "
        "a specific meldcode variant applies.",
    ),
    "flagmeans.mensenhandel": (
        "Mensenhandel: registratie bij CoMensha alleen met schriftelijke toestemming (vanaf 16 "
        "het slachtoffer, anders ouders of voogd); een regionale zorgcoördinator.",
        "Mensenhandel: registration with CoMensha only with written consent (the victim from "
        "16, else parents or guardian); a regional zorgcoördinator.",
    ),
    "flagmeans.ouderenmishandeling": (
        "Ouderenmishandeling: vaak financieel misbruik of een overbelaste mantelzorger.",
        "Ouderenmishandeling: often financial abuse or an overburdened carer.",
    ),
    "flagmeans.complexe_scheiding": (
        "Complexe scheiding: afstemming met de Raad voor de Kinderbescherming en de rechter.",
        "Complexe scheiding: coordination with the Raad voor de Kinderbescherming and the court.",
    ),
    "title.employee": ("Toegang per medewerker", "Access by employee"),
    "employee.intro": (
        "Alles wat één medewerker las, zocht, vastlegde of geweigerd kreeg, in elke zaak "
        "(NEN 7513). Een auditor van een organisatie ziet de eigen medewerkers; een auditor van "
        "de hele regio iedereen.",
        "Everything one employee read, searched, recorded or was refused, in every case (NEN "
        "7513). An organisation's auditor sees its own employees; a region-wide auditor anyone.",
    ),
    "employee.user": ("Gebruikers-id", "User id"),
    "employee.show": ("Toon", "Show"),
    "employee.caption": ("Toegang van", "Access by"),
    "employee.none": ("Niets gevonden voor deze medewerker.", "Nothing found for this employee."),
    "employee.caseload": ("caseload (zoeken)", "caseload (searches)"),
    "audit.employee": ("Toegang per medewerker", "Access by employee"),
    "replay.showing": ("De zaak zoals die was na record", "The case as it was after record"),
    "replay.sequence": ("Na record", "After record"),
    "replay.show": ("Toon", "Show"),
    "replay.to": ("toon na", "show after"),
    "access.caption": (
        "Wie de zaak bekeek of wijzigde, wanneer, op welke grond en via welk toegangspunt",
        "Who read or changed the case, when, on what basis and through which access point",
    ),
    "access.when": ("Wanneer", "When"),
    "access.who": ("Wie", "Who"),
    "access.what": ("Wat", "What"),
    "access.outcome": ("Uitkomst", "Outcome"),
    "access.basis": ("Grondslag", "Basis"),
    "access.via": ("Via", "Via"),
    # the events, as the timeline and the notices name them
    "eventtype.CaseOpened": ("Zaak geopend", "Case opened"),
    "eventtype.MemberRecorded": ("Lid van het huishouden vastgelegd", "Household member recorded"),
    "eventtype.SpecificGroupFlagged": ("Specifieke groep gemarkeerd", "Specific group flagged"),
    "eventtype.SpecificGroupEnded": ("Specifieke groep beëindigd", "Specific group ended"),
    "eventtype.PhaseTransitioned": ("Fase gewijzigd", "Phase changed"),
    "eventtype.VtStageTransitioned": ("Veilig Thuis-stap gewijzigd", "Veilig Thuis stage changed"),
    "eventtype.SafetyPlanAgreed": ("Veiligheidsplan afgesproken", "Safety plan agreed"),
    "eventtype.SafetyConditionAdded": (
        "Veiligheidsvoorwaarde toegevoegd",
        "Safety condition added",
    ),
    "eventtype.SafetyConditionStatusRecorded": (
        "Controle van een voorwaarde vastgelegd",
        "Condition check recorded",
    ),
    "eventtype.RiskAssessmentRecorded": ("Risicotaxatie vastgelegd", "Risk assessment recorded"),
    "eventtype.IncidentRecorded": ("Incident vastgelegd", "Incident recorded"),
    "eventtype.CasusregisseurAssigned": ("Casusregisseur toegewezen", "Casusregisseur assigned"),
    "eventtype.RegieReturned": ("Regie terug naar Veilig Thuis", "Regie returned to Veilig Thuis"),
    "eventtype.HandoverProposed": ("Overdracht voorgesteld", "Handover proposed"),
    "eventtype.HandoverAccepted": ("Overdracht geaccepteerd", "Handover accepted"),
    "eventtype.HandoverRejected": ("Overdracht afgewezen", "Handover rejected"),
    "eventtype.HandoverWithdrawn": ("Overdracht ingetrokken", "Handover withdrawn"),
    "eventtype.HandoverExpired": ("Overdracht verlopen", "Handover expired"),
    "eventtype.HandoverEscalated": ("Overdracht geëscaleerd", "Handover escalated"),
    "eventtype.DeadlineEscalated": ("Termijn geëscaleerd", "Deadline escalated"),
    "eventtype.MeldingReceived": ("Melding ontvangen", "Melding received"),
    "eventtype.VeiligheidsbeoordelingConcluded": (
        "Veiligheidsbeoordeling afgerond",
        "Veiligheidsbeoordeling concluded",
    ),
    "eventtype.ZichtOrganised": (
        "Zicht op veiligheid georganiseerd",
        "Zicht op veiligheid arranged",
    ),
    "eventtype.MonitoringCheckRecorded": (
        "Monitoringsmoment vastgelegd",
        "Monitoring moment recorded",
    ),
    "eventtype.ObligationWaived": ("Verplichting vervallen verklaard", "Obligation waived"),
    "eventtype.HuisverbodImposed": ("Huisverbod opgelegd", "Huisverbod imposed"),
    "eventtype.HuisverbodExtended": ("Huisverbod verlengd", "Huisverbod extended"),
    "eventtype.HuisverbodHelpStarted": ("Hulp bij huisverbod gestart", "Huisverbod help started"),
    "eventtype.MdaCriteriaAssessed": ("MDA++-criteria gewogen", "MDA++ criteria assessed"),
    "eventtype.MdaSignalled": ("Gesignaleerd voor MDA++", "Signalled for MDA++"),
    "eventtype.LegalHoldPlaced": ("Bewaarplicht opgelegd", "Legal hold placed"),
    "eventtype.LegalHoldReleased": ("Bewaarplicht opgeheven", "Legal hold released"),
    "eventtype.ShareGranted": ("Gegevensdeling toegestaan", "Share granted"),
    "eventtype.ShareRevoked": ("Gegevensdeling ingetrokken", "Share revoked"),
    "eventtype.BreakGlassUsed": ("Noodtoegang gebruikt", "Break-glass used"),
    "eventtype.BreakGlassReviewed": ("Noodtoegang beoordeeld", "Break-glass reviewed"),
    "eventtype.CaseErased": ("Zaak vernietigd", "Case erased"),
    "eventtype.AccessRecorded": ("Toegang vastgelegd", "Access recorded"),
    # a few engine ids with English words (the rest fall back to the Dutch ids)
    "event.start_veiligheidsbeoordeling": (
        "Start veiligheidsbeoordeling",
        "Start the veiligheidsbeoordeling",
    ),
    "event.start_directe_veiligheid": ("Start directe veiligheid", "Start directe veiligheid"),
    "event.besluit_overdracht": ("Besluit: overdracht", "Decide: overdracht (hand over)"),
    "event.start_monitoring": ("Start monitoring", "Start monitoring"),
    "event.terugval": ("Terugval", "Terugval (relapse)"),
    "event.afsluiten": ("Zaak afsluiten", "Close the case"),
    "event.vt_afsluiten": ("Veilig Thuis-traject afsluiten", "Close the Veilig Thuis track"),
}

MESSAGES: dict[str, dict[str, str]] = {
    language: {key: texts[i] for key, texts in _BOTH.items()}
    for i, language in enumerate(LANGUAGES)
}
"""Every key's text, per language."""

_FALLBACK_FAMILIES = (
    "state.",
    "event.",
    "eventtype.",
    "kind.",
    "flag.",
    "member.",
    "field.",
    "action.",
    "handover.",
    "purpose.",
    "status.",
    "condition.",
    "via.",
    "role.",
)


def translate(language: str, key: str) -> str:
    """The text of ``key`` in ``language`` (Dutch when unknown); an engine id's own words
    for a family of ids that has no text for it; the key itself otherwise (a test prevents)."""
    found = MESSAGES.get(language, MESSAGES["nl"]).get(key)
    if found is not None:
        return found
    family = next((f for f in _FALLBACK_FAMILIES if key.startswith(f)), None)
    if family is not None:
        return key[len(family) :].replace("_", " ")
    return key


def labels_of(language: str) -> dict[str, str]:
    """The words for the charts' states in ``language`` (the diagrams' labels)."""
    prefix = "state."
    return {
        key[len(prefix) :]: text
        for key, text in MESSAGES.get(language, MESSAGES["nl"]).items()
        if key.startswith(prefix)
    }
