"""Danish and English labels for what the planner sees (map layers, legends, tooltips, popups).

Every label is looked up with :func:`t`; ``LABELS`` maps a key to its text per language. Keys are
plain English identifiers (``"layer.stops"``); the texts are what a planner reads. Codes that come
from the data (amenity categories of ``schema.AMENITY_CATEGORIES``, designated-area kinds of
``schema.DESIGNATED_KINDS``, score terms) have keys ``"category.<code>"``, ``"kind.<code>"`` and
``"term.<code>"``.
"""

from __future__ import annotations

from typing import Literal

from placement._errors import ConfigError

__all__ = ["LABELS", "LANGUAGES", "Language", "t"]

Language = Literal["da", "en"]
#: Supported languages, Danish first (the default).
LANGUAGES: tuple[str, ...] = ("da", "en")

#: key -> {language: text}. Every key has a text in every language of ``LANGUAGES``.
LABELS: dict[str, dict[str, str]] = {
    # layers
    "layer.boundary": {"da": "Kommunegrænse", "en": "Municipal boundary"},
    "layer.areas": {"da": "Lokalområder", "en": "Local areas"},
    "layer.designated": {"da": "Udpegede områder", "en": "Designated areas"},
    "layer.stops": {"da": "Stoppesteder", "en": "Stops"},
    "layer.lines": {"da": "Linjer", "en": "Lines"},
    "layer.amenities": {"da": "Faciliteter", "en": "Amenities"},
    "layer.dwellings": {"da": "Boliger", "en": "Dwellings"},
    "layer.proposals": {"da": "Forslag", "en": "Proposals"},
    # legend
    "legend.title": {"da": "Signaturforklaring", "en": "Legend"},
    "legend.share_of_cap": {"da": "Lokalområde: belægning i forhold til loft",
                            "en": "Local area: load against cap"},
    "legend.population": {"da": "Lokalområde: indbyggere", "en": "Local area: population"},
    "legend.dwelling_value": {"da": "Bolig: {what}", "en": "Dwelling: {what}"},
    "legend.stop_size": {"da": "Stoppested: størrelse = afgange pr. time 06–20",
                         "en": "Stop: size = departures per hour 06–20"},
    "legend.designated": {"da": "Udpeget område (stiplet kant)",
                          "en": "Designated area (dashed outline)"},
    "legend.proposal": {"da": "Foreslået bolig", "en": "Proposed dwelling"},
    "legend.no_data": {"da": "Bolig: ingen data ({n})", "en": "Dwelling: no data ({n})"},
    "legend.sampled": {"da": "Viser {shown} af {total} boliger",
                       "en": "Showing {shown} of {total} dwellings"},
    # fields in tooltips and popups
    "field.area": {"da": "Lokalområde", "en": "Local area"},
    "field.name": {"da": "Navn", "en": "Name"},
    "field.kind": {"da": "Type", "en": "Kind"},
    "field.population": {"da": "Indbyggere", "en": "Population"},
    "field.persons_placed": {"da": "Placerede personer", "en": "Persons placed"},
    "field.cap_persons": {"da": "Loft (personer)", "en": "Cap (persons)"},
    "field.share_of_cap": {"da": "Andel af loft", "en": "Share of cap"},
    "field.stop": {"da": "Stoppested", "en": "Stop"},
    "field.departures_per_hour": {"da": "Afgange pr. time (06–20)",
                                  "en": "Departures per hour (06–20)"},
    "field.route": {"da": "Linje", "en": "Line"},
    "field.category": {"da": "Kategori", "en": "Category"},
    "field.dwelling": {"da": "Bolig", "en": "Dwelling"},
    "field.address": {"da": "Adresse", "en": "Address"},
    "field.rooms": {"da": "Værelser", "en": "Rooms"},
    "field.rent_dkk": {"da": "Husleje (kr./md.)", "en": "Rent (DKK/month)"},
    "field.household": {"da": "Husstand", "en": "Household"},
    "field.persons": {"da": "Personer", "en": "Persons"},
    "field.score": {"da": "Score", "en": "Score"},
    "field.dwelling_score": {"da": "Boligscore (transport og fællesskab)",
                             "en": "Dwelling score (transit and community)"},
    "field.alternatives": {"da": "Alternativer", "en": "Alternatives"},
    "field.not_applicable": {"da": "ikke relevant", "en": "not applicable"},
    "field.no_data": {"da": "ingen data", "en": "no data"},
    "field.none": {"da": "ingen", "en": "none"},
    # score terms (columns of a proposal)
    "term.transit": {"da": "Kollektiv trafik", "en": "Public transport"},
    "term.community": {"da": "Fællesskab", "en": "Community"},
    "term.family": {"da": "Dagtilbud og skole", "en": "Daycare and school"},
    "term.anchor": {"da": "Nærhed til ankersted", "en": "Closeness to anchor place"},
    "term.spread": {"da": "Geografisk spredning", "en": "Geographic spread"},
    "term.daycare": {"da": "Dagtilbud", "en": "Daycare"},
    "term.school": {"da": "Skole", "en": "School"},
    # amenity categories (schema.AMENITY_CATEGORIES)
    "category.school": {"da": "Skole", "en": "School"},
    "category.upper_secondary": {"da": "Ungdomsuddannelse", "en": "Upper secondary education"},
    "category.daycare": {"da": "Dagtilbud", "en": "Daycare"},
    "category.association": {"da": "Forening", "en": "Association"},
    "category.library_culture": {"da": "Bibliotek og kultur", "en": "Library and culture"},
    "category.supermarket": {"da": "Dagligvarebutik", "en": "Supermarket"},
    "category.doctor": {"da": "Læge", "en": "Doctor"},
    "category.jobcenter": {"da": "Jobcenter", "en": "Jobcentre"},
    "category.language_school": {"da": "Sprogcenter", "en": "Language school"},
    "category.stop": {"da": "Stoppested (OSM)", "en": "Stop (OSM)"},
    # designated-area kinds (schema.DESIGNATED_KINDS)
    "kind.vulnerable": {"da": "Udsat boligområde", "en": "Vulnerable housing area"},
    "kind.parallel_society": {"da": "Parallelsamfund", "en": "Parallel society"},
    "kind.prevention": {"da": "Forebyggelsesområde", "en": "Prevention area"},
    "kind.cap_area": {"da": "Område med loft", "en": "Capped area"},
    # the app
    "app.title": {"da": "Boligplacering af flygtninge", "en": "Housing placement of refugees"},
    "app.language": {"da": "Sprog", "en": "Language"},
    "app.username": {"da": "Brugernavn", "en": "Username"},
    "app.password": {"da": "Adgangskode", "en": "Password"},
    "app.sign_in": {"da": "Log ind", "en": "Sign in"},
    "app.sign_in_sso": {"da": "Log ind med organisationens konto",
                        "en": "Sign in with your organisation's account"},
    "app.sign_out": {"da": "Log ud", "en": "Sign out"},
    "app.wrong_password": {"da": "Forkert brugernavn eller adgangskode.",
                           "en": "Wrong username or password."},
    "app.locked": {"da": "For mange forkerte forsøg: prøv igen om {minutes} minut(ter).",
                   "en": "Too many wrong attempts: try again in {minutes} minute(s)."},
    "app.signed_out_changed": {"da": "Du er logget ud, fordi din bruger er ændret eller fjernet.",
                               "en": "You were signed out: your user was changed or removed."},
    "app.unknown_sso_user": {"da": "Din konto har ikke adgang til værktøjet.",
                             "en": "Your account has no access to this tool."},
    "app.signed_in_as": {"da": "Logget ind som {name} ({role})",
                         "en": "Signed in as {name} ({role})"},
    "app.page": {"da": "Side", "en": "Page"},
    "page.review": {"da": "Gennemgang", "en": "Review"},
    "page.whatif": {"da": "Hvad nu hvis", "en": "What-if"},
    "page.retention": {"da": "Fastholdelse", "en": "Retention"},
    "page.export": {"da": "Eksport", "en": "Export"},
    "role.coordinator": {"da": "boligkoordinator", "en": "housing coordinator"},
    "role.planner": {"da": "planlægger", "en": "planner"},
    "role.viewer": {"da": "læser", "en": "viewer"},
    "review.no_run": {"da": "Der er endnu ikke lavet et forslag for dette datasæt.",
                      "en": "No proposal has been made for this dataset yet."},
    "review.propose": {"da": "Lav forslag", "en": "Make a proposal"},
    "review.run": {"da": "Kørsel", "en": "Run"},
    "review.filter_status": {"da": "Status", "en": "Status"},
    "review.filter_area": {"da": "Lokalområde", "en": "Local area"},
    "review.sort": {"da": "Sortér efter", "en": "Sort by"},
    "review.households": {"da": "Husstande", "en": "Households"},
    "review.action": {"da": "Beslutning", "en": "Decision"},
    "review.reason": {"da": "Begrundelse", "en": "Reason"},
    "review.decide": {"da": "Gem beslutning", "en": "Save decision"},
    "review.decided": {"da": "{n} beslutning(er) gemt.", "en": "{n} decision(s) saved."},
    "review.reoptimise": {"da": "Optimér igen med beslutningerne",
                          "en": "Re-optimise keeping the decisions"},
    "review.new_run": {"da": "Ny kørsel {run} gemt.", "en": "New run {run} stored."},
    "review.areas": {"da": "Personer pr. lokalområde mod loftet",
                     "en": "Persons per local area against the cap"},
    "review.aggregates_only": {"da": "Din rolle ser kun samlede tal.",
                               "en": "Your role sees aggregate figures only."},
    "measure.placed": {"da": "Placerede husstande", "en": "Households placed"},
    "measure.unplaced": {"da": "Uplacerede husstande", "en": "Households unplaced"},
    "measure.gap": {"da": "Optimalitetsgab", "en": "Optimality gap"},
    "measure.served": {"da": "Nær betjent stoppested", "en": "Near a served stop"},
    "whatif.arrivals": {"da": "Flere ankomster (faktor)", "en": "More arrivals (factor)"},
    "whatif.cut_route": {"da": "Nedlæg buslinje", "en": "Cut a bus line"},
    "whatif.none": {"da": "(ingen)", "en": "(none)"},
    "whatif.cap_area": {"da": "Nyt loft for lokalområde", "en": "New cap on a local area"},
    "whatif.cap_share": {"da": "Loft (andel af befolkningen)", "en": "Cap (share of population)"},
    "whatif.weights": {"da": "Vægte", "en": "Weights"},
    "whatif.run": {"da": "Kør scenarie", "en": "Run scenario"},
    "whatif.running": {"da": "Beregner scenariet ...", "en": "Computing the scenario ..."},
    "whatif.base": {"da": "Basis", "en": "Base"},
    "whatif.scenario": {"da": "Scenarie", "en": "Scenario"},
    "whatif.measures": {"da": "Nøgletal", "en": "Measures"},
    "whatif.changed": {"da": "Husstande med ændret forslag",
                       "en": "Households whose proposal changed"},
    "retention.year": {"da": "Rapportår", "en": "Report year"},
    "retention.baseline": {"da": "Basisår", "en": "Baseline year"},
    "retention.download_html": {"da": "Hent rapport (HTML)", "en": "Download report (HTML)"},
    "retention.download_csv": {"da": "Hent alle tal (CSV)", "en": "Download every number (CSV)"},
    "retention.no_history": {"da": "Datasættet har ingen bopælshistorik.",
                             "en": "The dataset has no residence history."},
    "export.csv": {"da": "Forslag til sagsbehandling (CSV)",
                   "en": "Proposals for case handling (CSV)"},
    "export.sep": {"da": "Separator", "en": "Separator"},
    "export.gpkg": {"da": "GeoPackage til GIS", "en": "GeoPackage for GIS"},
    "export.summary": {"da": "Kørslens opsummering (JSON)", "en": "Run summary (JSON)"},
    # the sweep section of the What-if page
    "sweep.title": {"da": "Mange scenarier på én gang (sweep)",
                    "en": "Many scenarios at once (sweep)"},
    "sweep.term": {"da": "Vægt der varieres", "en": "Weight to vary"},
    "sweep.range": {"da": "Vægt fra–til", "en": "Weight from–to"},
    "sweep.vary_cap": {"da": "Varier loftet for alle lokalområder",
                 "en": "Vary the cap on every local area"},
    "sweep.caps": {"da": "Loft fra–til (andel af befolkningen)",
             "en": "Cap from–to (share of population)"},
    "sweep.routes": {"da": "Buslinjer der også prøves nedlagt", "en": "Bus lines also tried cut"},
    "sweep.runs": {"da": "Antal kørsler", "en": "Runs"},
    "sweep.measures": {"da": "Mål for Pareto-fronten", "en": "Measures of the Pareto front"},
    "sweep.start": {"da": "Start sweep", "en": "Start sweep"},
    "sweep.running": {"da": "Kører scenarier: {done} af {total}",
                "en": "Running scenarios: {done} of {total}"},
    "sweep.front": {"da": "Pareto-front: {front} af {ok} kørsler (røde punkter)",
              "en": "Pareto front: {front} of {ok} runs (red points)"},
    "sweep.failed": {"da": "{n} kørsel(er) fejlede; se tabellen.",
               "en": "{n} run(s) failed; see the table."},
    "sweep.unknown": {"da": "{n} kørsel(er) har et ukendt mål og sammenlignes ikke.",
                "en": "{n} run(s) have an unknown measure and are not compared."},
    "sweep.open": {"da": "Åbn scenarie (klik et punkt eller vælg)",
             "en": "Open a scenario (click a point or choose)"},
    "sweep.changes": {"da": "Ændringer", "en": "Changes"},
    "sweep.run": {"da": "Kørsel {run}", "en": "Run {run}"},
    # weekly batch (Review page)
    "batch.title": {"da": "Ugens hold", "en": "This week's batch"},
    "batch.until": {"da": "Holdets dato", "en": "Batch date"},
    "batch.scenarios": {"da": "Mulige forløb (scenarier)", "en": "Sampled futures (scenarios)"},
    "batch.compute": {"da": "Beregn holdet", "en": "Compute the batch"},
    "batch.running": {"da": "Beregner holdet …", "en": "Computing the batch …"},
    "batch.households": {"da": "Husstande i holdet", "en": "Households in the batch"},
    "batch.kept": {"da": "Boliger holdt ledige, og hvorfor",
                   "en": "Dwellings kept free, and why"},
    "batch.none_kept": {"da": "Ingen ledige boliger holdes tilbage.",
                        "en": "No free dwelling is kept back."},
    "batch.expected": {"da": "Forventede ankomster (gennemsnit over scenarier)",
                       "en": "Expected arrivals (mean over the scenarios)"},
}


def t(key: str, language: str = "da", **values: object) -> str:
    """Return the label ``key`` in ``language``, with ``{name}`` fields filled from ``values``.

    Parameters
    ----------
    key
        A key of ``LABELS`` (for example ``"layer.stops"``).
    language
        ``"da"`` (Danish) or ``"en"`` (English).
    **values
        Values for ``{name}`` placeholders in the text.

    Returns
    -------
    str
        The label.

    Raises
    ------
    ConfigError
        If the language is not supported.
    KeyError
        If the key has no label (a programming error, not a user error).

    Examples
    --------
    >>> t("layer.stops", "en")
    'Stops'
    >>> t("legend.sampled", "da", shown=10, total=20)
    'Viser 10 af 20 boliger'
    """
    if language not in LANGUAGES:
        msg = f"language: expected one of {', '.join(LANGUAGES)}, got {language!r}"
        raise ConfigError(msg)
    text = LABELS[key][language]
    return text.format(**values) if values else text
