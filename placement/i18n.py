"""Danish and English labels for what the planner sees (map layers, legends, tooltips, popups).

Every label is looked up with :func:`t`; ``LABELS`` maps a key to its text per language. Keys are
plain English identifiers (``"layer.stops"``); the texts are what a planner reads. Codes that come
from the data (amenity categories of ``schema.AMENITY_CATEGORIES``, designated-area kinds of
``schema.DESIGNATED_KINDS``, score terms) have keys ``"category.<code>"``, ``"kind.<code>"`` and
``"term.<code>"``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from placement._errors import ConfigError

__all__ = ["LABELS", "LANGUAGES", "Language", "kroner", "local_time", "markdown_escape", "number",
           "percent", "t"]

#: Time zone of the dates a coordinator reads (stored times are UTC).
LOCAL_TZ = "Europe/Copenhagen"

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
    "field.over_zero_cap": {"da": "over loftet (loft 0)", "en": "over the cap (cap 0)"},
    # score terms (columns of a proposal)
    "term.transit": {"da": "Kollektiv trafik", "en": "Public transport"},
    "term.community": {"da": "Fællesskab", "en": "Community"},
    "term.family": {"da": "Dagtilbud og skole", "en": "Daycare and school"},
    "term.anchor": {"da": "Nærhed til ankersted", "en": "Closeness to anchor place"},
    "term.spread": {"da": "Geografisk spredning", "en": "Geographic spread"},
    "term.retention": {"da": "Forventet fastholdelse (model)", "en": "Expected retention (model)"},
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
    # the Review page's work queue and household card (placement.review)
    "status.unplaced": {"da": "Uplaceret", "en": "Unplaced"},
    "status.proposed": {"da": "Foreslået", "en": "Proposed"},
    "status.approved": {"da": "Godkendt", "en": "Approved"},
    "status.rejected": {"da": "Afvist", "en": "Rejected"},
    "status.locked": {"da": "Låst", "en": "Locked"},
    "word.yes": {"da": "ja", "en": "yes"},
    "word.no": {"da": "nej", "en": "no"},
    "word.no_limit": {"da": "intet loft", "en": "no limit"},
    "rule.size_fit": {"da": "{rooms} til {persons} personer",
                      "en": "{rooms} for {persons} persons"},
    "rule.rooms_range": {"da": "{lo}–{hi} værelser", "en": "{lo}–{hi} rooms"},
    "rule.rooms_or_more": {"da": "{lo} værelser eller flere", "en": "{lo} rooms or more"},
    "rule.rent_ceiling": {"da": "husleje højst {ceiling}", "en": "rent at most {ceiling}"},
    "rule.step_free": {"da": "niveaufri adgang", "en": "step-free access"},
    "rule.area_cap": {"da": "plads under loftet i {area} ({free} personer fri, "
                            "husstanden er {persons})",
                      "en": "room under the cap of {area} ({free} persons free, "
                            "the household is {persons})"},
    "rule.building_limit": {"da": "højst {limit} husstande i samme bygning "
                                  "({n} er der allerede)",
                            "en": "at most {limit} households in one building "
                                  "({n} already there)"},
    "rule.availability": {"da": "ledig senest {date}", "en": "free by {date}"},
    "rule.permanent_only": {"da": "permanent bolig", "en": "permanent housing"},
    "rule.excluded_areas": {"da": "uden for udpegede områder", "en": "outside designated areas"},
    "rule.unknown_excluded": {"da": "data til scoren (ukendt = udeluk)",
                              "en": "data for the score (unknown = exclude)"},
    "card.children": {"da": "Børn", "en": "Children"},
    "card.children_0_5": {"da": "{n} på 0–5 år", "en": "{n} aged 0–5"},
    "card.children_6_16": {"da": "{n} på 6–16 år", "en": "{n} aged 6–16"},
    "card.children_17_plus": {"da": "{n} på 17 år eller mere", "en": "{n} aged 17 or more"},
    "card.step_free_needed": {"da": "Behov for niveaufri adgang", "en": "Needs step-free access"},
    "card.arrival": {"da": "Ankomst", "en": "Arrival"},
    "card.rent_ceiling": {"da": "Huslejeloft", "en": "Rent ceiling"},
    "card.floor_area": {"da": "Areal", "en": "Floor area"},
    "card.rent": {"da": "Husleje", "en": "Rent"},
    "card.available_from": {"da": "Ledig fra", "en": "Available from"},
    "card.outside_areas": {"da": "uden for lokalområderne", "en": "outside the local areas"},
    "card.unplaced_no_reason": {"da": "Ingen bolig fundet.", "en": "No dwelling found."},
    "card.why_decided": {"da": "Boligen er besluttet (af {n} egnede boliger).",
                         "en": "The dwelling is decided (of {n} suitable dwellings)."},
    "card.why_manual": {"da": "Manuelt tildelt (overholder alle regler).",
                        "en": "Assigned by hand (meets every rule)."},
    "card.why_best": {"da": "Den bedste af {n} egnede boliger.",
                      "en": "The best of {n} suitable dwellings."},
    "card.why_taken": {"da": "Af {n} egnede boliger scorer {dwelling} højere, men den er foreslået "
                              "til {household}; planen som helhed placerer flest og bedst.",
                       "en": "Of {n} suitable dwellings {dwelling} scores higher, but it is "
                             "proposed for {household}; the plan as a whole houses the most "
                             "and best."},
    "card.why_tradeoff": {"da": "Af {n} egnede boliger scorer en ledig bolig højere; loftet pr. "
                                 "lokalområde eller spredningen giver denne bolig forrang.",
                          "en": "Of {n} suitable dwellings a free one scores higher; the cap per "
                                "local area or the spread gives this dwelling the edge."},
    "card.household": {"da": "Husstand {household}", "en": "Household {household}"},
    "card.proposed": {"da": "Foreslået bolig {dwelling}", "en": "Proposed dwelling {dwelling}"},
    "card.score": {"da": "Score {score}", "en": "Score {score}"},
    "card.term": {"da": "Delscore", "en": "Term"},
    "card.value": {"da": "Værdi", "en": "Value"},
    "card.weight": {"da": "Vægt", "en": "Weight"},
    "card.reason": {"da": "Begrundelse", "en": "Reason"},
    "card.alternatives": {"da": "Alternativer (alle regler overholdt)",
                          "en": "Alternatives (every rule met)"},
    "card.no_alternatives": {"da": "Ingen anden bolig overholder reglerne.",
                             "en": "No other dwelling meets the rules."},
    "card.alt_line": {"da": "{dwelling}: {address}, {area} · {rooms} vær. · {rent} · score "
                             "{score} ({diff})",
                      "en": "{dwelling}: {address}, {area} · {rooms} rooms · {rent} · score "
                            "{score} ({diff})"},
    "card.alt_taken": {"da": "foreslået til {household}", "en": "proposed for {household}"},
    "card.choose": {"da": "Vælg {dwelling}", "en": "Choose {dwelling}"},
    "card.would_place": {"da": "Det ville placere husstanden", "en": "What would place it"},
    "card.would_place_line": {"da": "{n} bolig(er) mangler kun: {rule} (fx {examples})",
                              "en": "{n} dwelling(s) miss only: {rule} (e.g. {examples})"},
    "card.nothing_close": {"da": "Ingen bolig mangler kun én regel.",
                           "en": "No dwelling misses only one rule."},
    "card.pick": {"da": "Vælg en husstand i listen eller på kortet.",
                  "en": "Pick a household in the list or on the map."},
    "card.manual_reason": {"da": "manuel tildeling", "en": "manual assignment"},
    "card.breaks": {"da": "{dwelling} kan ikke vælges: {rules}.",
                    "en": "{dwelling} cannot be chosen: {rules}."},
    "card.assigned": {"da": "{dwelling} er godkendt til {household}.",
                      "en": "{dwelling} is approved for {household}."},
    "action.approve": {"da": "Godkend", "en": "Approve"},
    "action.reject": {"da": "Afvis", "en": "Reject"},
    "action.lock": {"da": "Lås", "en": "Lock"},
    "action.undo": {"da": "Fortryd", "en": "Undo"},
    "preview.approve": {"da": "{n} husstand(e) bliver godkendt",
                        "en": "{n} household(s) will be approved"},
    "preview.reject": {"da": "{n} husstand(e) bliver afvist",
                       "en": "{n} household(s) will be rejected"},
    "preview.lock": {"da": "{n} husstand(e) bliver låst", "en": "{n} household(s) will be locked"},
    "preview.undo": {"da": "{n} husstand(e) får beslutningen fortrudt",
                     "en": "{n} household(s) will have their decision undone"},
    "changes.line": {"da": "Ny kørsel: {kept} beholdt, {moved} flyttet, {newly_placed} nyplaceret, "
                           "{now_unplaced} ikke længere placeret.",
                     "en": "New run: {kept} kept, {moved} moved, {newly_placed} newly placed, "
                           "{now_unplaced} no longer placed."},
    "conflict.text": {"da": "Bolig {holder_dwelling} er allerede holdt for husstand {holder} "
                            "(besluttet af {by}, {when}). Vælg {holder} i listen og klik "
                            "Fortryd, eller vælg et andet alternativ.",
                      "en": "Dwelling {holder_dwelling} is already held for household {holder} "
                            "(decided by {by}, {when}). Pick {holder} in the list and click "
                            "Undo, or choose another alternative."},
    "review.household_box": {"da": "Husstand", "en": "Household"},
    "review.bulk": {"da": "Beslutning for flere husstande", "en": "Decision on several households"},
    "review.queue": {"da": "Arbejdsliste", "en": "Work queue"},
    "review.nothing_to_undo": {"da": "Der er ingen beslutning at fortryde for {household}.",
                               "en": "There is no decision to undo for {household}."},
    "review.card_changed": {"da": "Intet er besluttet for {household}: kortet skiftede til "
                                  "{shown}, før klikket nåede frem. Se kortet, og klik igen.",
                            "en": "Nothing was decided for {household}: the card changed to "
                                  "{shown} before the click arrived. Check the card and click "
                                  "again."},
    "review.no_proposal": {"da": "{household} har ingen foreslået bolig at beslutte om.",
                           "en": "{household} has no proposed dwelling to decide on."},
    "col.household": {"da": "Husstand", "en": "Household"},
    "col.status": {"da": "Status", "en": "Status"},
    "col.persons": {"da": "Personer", "en": "Persons"},
    "col.dwelling": {"da": "Bolig", "en": "Dwelling"},
    "col.address": {"da": "Adresse", "en": "Address"},
    "col.area": {"da": "Lokalområde", "en": "Local area"},
    "col.score": {"da": "Score", "en": "Score"},
    "col.reason": {"da": "Hvorfor uplaceret", "en": "Why unplaced"},
    "map.assets_missing": {"da": "Kortets filer (Leaflet) mangler: kør `npm ci --prefix app` og "
                                 "genstart appen. Kortet hentes aldrig fra internettet.",
                           "en": "The map's files (Leaflet) are missing: run `npm ci --prefix "
                                 "app` and restart the app. The map is never fetched from the "
                                 "internet."},
    "measure.time_to_decision": {"da": "Beslutning vist", "en": "Decision shown"},
    # the What-if page (placement.whatif)
    "mode.bus": {"da": "bus", "en": "bus"},
    "mode.train": {"da": "tog", "en": "train"},
    "mode.tram": {"da": "letbane", "en": "tram"},
    "mode.metro": {"da": "metro", "en": "metro"},
    "mode.ferry": {"da": "færge", "en": "ferry"},
    "mode.cable": {"da": "kabelbane", "en": "cable car"},
    "mode.funicular": {"da": "kabelbane", "en": "funicular"},
    "mode.trolleybus": {"da": "trolleybus", "en": "trolleybus"},
    "mode.monorail": {"da": "monorail", "en": "monorail"},
    "mode.taxi": {"da": "taxa", "en": "taxi"},
    "mode.other": {"da": "anden", "en": "other"},
    "whatif.col_measure": {"da": "Nøgletal", "en": "Measure"},
    "whatif.col_unit": {"da": "Enhed", "en": "Unit"},
    "wm.households_placed": {"da": "Placerede husstande", "en": "Households placed"},
    "wm.households_unplaced": {"da": "Uplacerede husstande", "en": "Households unplaced"},
    "wm.persons_placed": {"da": "Placerede personer", "en": "Persons placed"},
    "wm.share_near_served_stop": {"da": "Personer inden for 500 m af et stoppested med mindst "
                                        "2 afgange i timen",
                                  "en": "Persons within 500 m of a stop with at least 2 "
                                        "departures an hour"},
    "wm.median_pt_jobcenter_min": {"da": "Mediantid med kollektiv trafik til jobcentret",
                                   "en": "Median public-transport time to the jobcentre"},
    "wm.median_pt_language_school_min": {"da": "Mediantid med kollektiv trafik til sprogcentret",
                                         "en": "Median public-transport time to the language "
                                               "school"},
    "wm.families_daycare_school_15min": {"da": "Familier med dagtilbud og skole inden for 15 min "
                                               "gang",
                                         "en": "Families with daycare and school within 15 min "
                                               "walk"},
    "wm.mean_associations_15min": {"da": "Foreninger inden for 15 min gang (gennemsnit)",
                                   "en": "Associations within 15 min walk (mean)"},
    "wm.households_no_data": {"da": "Placerede husstande med en ukendt delscore",
                              "en": "Placed households with an unknown term"},
    "wm.largest_area_share_of_cap": {"da": "Største lokalområde: belægning i forhold til loft",
                                     "en": "Largest local area: load against its cap"},
    "wu.count": {"da": "antal", "en": "count"},
    "wu.share": {"da": "procent", "en": "percent"},
    "wu.minutes": {"da": "minutter", "en": "minutes"},
    "wu.mean": {"da": "gennemsnit", "en": "mean"},
    "whatif.name": {"da": "Navn på scenariet", "en": "Name of the scenario"},
    "whatif.default_name": {"da": "Scenarie {n}", "en": "Scenario {n}"},
    "whatif.stored": {"da": "Gemte scenarier", "en": "Stored scenarios"},
    "whatif.compare_a": {"da": "Sammenlign", "en": "Compare"},
    "whatif.compare_b": {"da": "med", "en": "with"},
    "whatif.base_run": {"da": "Basis (kørsel {run})", "en": "Base (run {run})"},
    "whatif.scenario_label": {"da": "{name} (kørsel {run}, {by}, {when})",
                              "en": "{name} (run {run}, {by}, {when})"},
    "whatif.difference": {"da": "Forskel: ændring i placerede personer pr. lokalområde",
                          "en": "Difference: change in persons placed per local area"},
    "whatif.no_scenarios": {"da": "Der er ingen gemte scenarier endnu: kør et ovenfor.",
                            "en": "No stored scenarios yet: run one above."},
    "whatif.stored_as": {"da": "Scenariet \"{name}\" er gemt som kørsel {run}.",
                         "en": "Scenario \"{name}\" is stored as run {run}."},
    "whatif.cap_zero_note": {"da": "Et loft på 0 % betyder: ingen nye placeringer i området.",
                             "en": "A cap of 0% means: no new placements in the area."},
    "legend.area_change": {"da": "Ændring i placerede personer", "en": "Change in persons placed"},
    "field.change": {"da": "Ændring", "en": "Change"},
    "layer.changed_dwellings": {"da": "Boliger med ny husstand",
                                "en": "Dwellings with another household"},
    "layer.cut_line": {"da": "Nedlagt linje", "en": "Cut line"},
    "whatif.difference_map": {"da": "Forskelskort: hvad ændrer sig",
                              "en": "Difference map: what changes"},
    "widget.choose": {"da": "Vælg", "en": "Choose"},
    "review.run_label": {"da": "Kørsel {run} ({when})", "en": "Run {run} ({when})"},
    "measure.placed": {"da": "Placerede husstande", "en": "Households placed"},
    "measure.unplaced": {"da": "Uplacerede husstande", "en": "Households unplaced"},
    "measure.gap": {"da": "Optimalitetsgab", "en": "Optimality gap"},
    "measure.served": {"da": "Nær betjent stoppested", "en": "Near a served stop"},
    "whatif.arrivals": {"da": "Flere ankomster (faktor)", "en": "More arrivals (factor)"},
    "whatif.cut_route": {"da": "Nedlæg linje (bus, tog)", "en": "Cut a line (bus, train)"},
    "whatif.pick_map": {"da": "Vælg linjen på kortet", "en": "Pick the line on the map"},
    "whatif.pick_on_map": {"da": "Klik på en linje for at nedlægge den i scenariet",
                           "en": "Click a line to cut it in the scenario"},
    "whatif.picked": {"da": "Valgt linje: {name}", "en": "Chosen line: {name}"},
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
    "retention.report_language": {
        "da": "Rapporten her og den downloadede HTML-fil er på dansk (vælg English i menuen for "
              "engelsk). CSV-filen med alle tal har de samme maskinlæsbare navne på begge sprog.",
        "en": "The report here and the downloaded HTML file are in English (choose Dansk in the "
              "menu for Danish). The CSV of every number has the same machine-readable names in "
              "both languages."},
    "retention.notes": {"da": "Noter og metode", "en": "Notes and method"},
    "retention.no_history": {"da": "Datasættet har ingen bopælshistorik.",
                             "en": "The dataset has no residence history."},
    # the fairness audit (Retention page)
    "fairness.title": {"da": "Lighedsanalyse: hvem vinder, og hvem taber",
                       "en": "Fairness audit: who gains and who loses"},
    "fairness.caption": {"da": "Kørslens forslag pr. husstandstype og behov for trinfri bolig. "
                               "Hvert tal siger, hvor mange husstande det er ud af; antal under "
                               "{k} vises som {label}. Forventet fastholdelse er en sammenhæng, "
                               "ikke en årsag.",
                         "en": "The run's proposals by household type and step-free need. Each "
                               "figure says of how many households it is; counts below {k} are "
                               "shown as {label}. Predicted retention is an association, not a "
                               "cause."},
    "fairness.no_run": {"da": "Der er ingen gemt kørsel endnu: lav et forslag på siden "
                              "Gennemgang.",
                        "en": "No stored run yet: make a proposal on the Review page."},
    "fairness.no_flags": {"da": "Ingen gruppe afviger mere end grænserne fra alle husstande.",
                          "en": "No group differs from all households beyond the settings."},
    "fairness.flags": {"da": "Forskelle ud over grænserne",
                       "en": "Disparities beyond the settings"},
    "fairness.flag": {"da": "{plan}: {group} — {measure} {value} (af {n}) mod {ref} for alle "
                            "husstande: {gap}.",
                      "en": "{plan}: {group} households — {measure} {value} (of {n}) against "
                            "{ref} for all households: {gap}."},
    "fairness.higher": {"da": "{x} højere", "en": "{x} higher"},
    "fairness.lower": {"da": "{x} lavere", "en": "{x} lower"},
    "fairness.more_weeks": {"da": "{x} mere", "en": "{x} more"},
    "fairness.less_weeks": {"da": "{x} mindre", "en": "{x} less"},
    "fairness.weeks": {"da": "uger", "en": "weeks"},
    "fairness.of": {"da": "{value} (af {n})", "en": "{value} (of {n})"},
    "fairness.moved": {"da": "{plan}: {n} husstande får en anden bolig end under {ref}.",
                       "en": "{plan}: {n} households get another dwelling than under {ref}."},
    "fairness.measure": {"da": "Mål", "en": "Measure"},
    "fairness.run_plan": {"da": "kørsel {run}", "en": "run {run}"},
    "fairness.dim.all": {"da": "Alle husstande", "en": "All households"},
    "fairness.dim.household_type": {"da": "Husstandstype", "en": "Household type"},
    "fairness.dim.step_free": {"da": "Behov for trinfri bolig", "en": "Step-free need"},
    "fairness.group.all": {"da": "alle", "en": "all"},
    "fairness.group.single": {"da": "enlige", "en": "single"},
    "fairness.group.couple": {"da": "par", "en": "couple"},
    "fairness.group.single_parent": {"da": "enlige forsørgere", "en": "single parent"},
    "fairness.group.family": {"da": "familier", "en": "family"},
    "fairness.group.large_family": {"da": "store familier (5+ personer)",
                                    "en": "large family (5+ persons)"},
    "fairness.group.needs step-free": {"da": "med behov for trinfri bolig",
                                       "en": "needs step-free"},
    "fairness.group.no step-free need": {"da": "uden behov for trinfri bolig",
                                         "en": "no step-free need"},
    "fairness.group.unknown": {"da": "ukendt", "en": "unknown"},
    "fairness.m.share_placed": {"da": "andel placeret", "en": "share placed"},
    "fairness.m.weeks_waited": {"da": "uger ventet", "en": "weeks waited"},
    "fairness.m.mean_score": {"da": "gennemsnitlig score", "en": "mean score"},
    "fairness.m.mean_term": {"da": "gennemsnitlig score: {term}", "en": "mean score: {term}"},
    "fairness.m.share_near_served_stop": {"da": "andel nær et betjent stoppested",
                                          "en": "share near a served stop"},
    "fairness.m.families_daycare_school_15min": {
        "da": "familier med dagtilbud/skole inden for 15 min",
        "en": "families with daycare/school within 15 min"},
    "fairness.m.predicted_retention": {"da": "forventet fastholdelse (model)",
                                       "en": "predicted retention (model)"},
    "fairness.validation": {
        "da": "Validering uden for træningsperioden ({n} personer fra årgangene {cohorts}, hver "
              "forudsagt alene ud fra tidligere årgange): AUC {auc}, Brier {brier} mod "
              "{brier_base} for basisraten (forbedring {skill}) — {verdict}. En sammenhæng, "
              "ikke en årsag.",
        "en": "Out-of-time validation ({n} persons of cohorts {cohorts}, each predicted from "
              "earlier cohorts only): AUC {auc}, Brier {brier} against {brier_base} for the "
              "base rate (skill {skill}) — {verdict}. An association, not a cause."},
    "fairness.better": {"da": "bedre end basisraten", "en": "better than the base rate"},
    "fairness.not_better": {"da": "IKKE bedre end basisraten: stol ikke på den",
                            "en": "NOT better than the base rate: do not rely on it"},
    "fairness.not_validated": {
        "da": "Fastholdelsesmodellen kunne ikke valideres uden for træningsperioden (for få "
              "årgange med afsluttet integrationsperiode); dens forudsigelser bør ikke bruges.",
        "en": "The retention model could not be validated out of time (too few cohorts with an "
              "ended integration period); its predictions are not to be relied on."},
    "fairness.note.weeks": {"da": "Ventetid i uger er ukendt: kørslen har ingen ventetider (de "
                                  "tælles ikke som 0).",
                            "en": "Weeks waited are unknown: the run has no waiting times (they "
                                  "are not counted as 0)."},
    "fairness.note.no_history": {"da": "Ingen bopælshistorik: forventet fastholdelse er ukendt.",
                                 "en": "No residence history: predicted retention is unknown."},
    "fairness.note.no_model": {"da": "Ingen fastholdelsesmodel (for få personer med afsluttet "
                                     "integrationsperiode): forventet fastholdelse er ukendt.",
                               "en": "No retention model (too few persons with an ended "
                                     "integration period): predicted retention is unknown."},
    "fairness.note.cohort": {"da": "Årgang {year} er ikke testet uden for træningsperioden.",
                             "en": "Cohort {year} was not tested out of time."},
    "fairness.note.left_out": {"da": "{n} personer med afsluttet periode er udeladt af "
                                     "modellen: et mål for deres bolig er ukendt.",
                               "en": "{n} persons with an ended period were left out of the "
                                     "fit: a measure of their dwelling is unknown."},
    "fairness.note.left_out_few": {"da": "Færre end {n} personer med afsluttet periode er "
                                         "udeladt af modellen: et mål for deres bolig er ukendt.",
                                   "en": "Fewer than {n} persons with an ended period were left "
                                         "out of the fit: a measure of their dwelling is "
                                         "unknown."},
    "fairness.note.better": {"da": "Modellen forudsiger fastholdelse bedre end basisraten uden "
                                   "for træningsperioden.",
                             "en": "The model predicts staying better than the base rate out "
                                   "of time."},
    "fairness.note.not_better": {"da": "Modellen forudsiger ikke fastholdelse bedre end "
                                       "basisraten uden for træningsperioden: vægten for "
                                       "fastholdelse bør blive 0.",
                                 "en": "The model does not predict staying better than the base "
                                       "rate out of time: the retention weight should stay 0."},
    "fairness.note.none_tested": {"da": "Ingen årgang kunne testes uden for træningsperioden: "
                                        "modellen er ikke valideret.",
                                  "en": "No cohort could be tested out of time: the model is "
                                        "not validated."},
    "fairness.note.other": {"da": "Teknisk note (på engelsk): {text}", "en": "{text}"},
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


#: Streamlit's own texts (table toolbar, column menu, select boxes) and their Danish words.
#: Streamlit has no setting for its language; the app puts these in place in the page.
WIDGET_TEXTS_DA: dict[str, str] = {
    "Show/hide columns": "Vis/skjul kolonner",
    "Download as CSV": "Download som CSV",
    "Search": "Søg",
    "Fullscreen": "Fuld skærm",
    "Enter fullscreen": "Fuld skærm",
    "Exit fullscreen": "Luk fuld skærm",
    "Close fullscreen": "Luk fuld skærm",
    "Toggle fullscreen": "Fuld skærm til/fra",
    "Clear selection": "Ryd valg",
    "Select all": "Vælg alle",
    "Sort ascending": "Sortér stigende",
    "Sort descending": "Sortér faldende",
    "Pin column": "Fastgør kolonne",
    "Unpin column": "Frigør kolonne",
    "Hide column": "Skjul kolonne",
    "Autosize": "Tilpas bredde",
    "Format": "Format",
    "Type to search": "Skriv for at søge",
    "No results": "Ingen resultater",
    "No options to select": "Ingen valgmuligheder",
    "Choose an option": "Vælg",
    "Choose options": "Vælg",
    "Clear all": "Ryd alle",
    "Open": "Åbn",
    "Close": "Luk",
    "Main menu": "Hovedmenu",
    "Skip to main content": "Gå til indhold",
    "Link to heading": "Link til overskrift",
    "Press Enter to submit form": "Tryk Enter for at sende",
    "Press Enter to apply": "Tryk Enter for at anvende",
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


# --- numbers and dates for people ----------------------------------------------------------------
_MONTHS = {"da": ("jan.", "feb.", "mar.", "apr.", "maj", "jun.", "jul.", "aug.", "sep.", "okt.",
                  "nov.", "dec."),
           "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                  "Dec")}


#: Characters with a meaning in (Streamlit's) Markdown: each is written with a backslash.
_MARKDOWN_SPECIAL = frozenset("\\`*_{}[]()#+-.!|<>~$:=\"'&")


def markdown_escape(text: Any) -> str:
    """Return ``text`` so that Markdown shows it literally (no link, image, emphasis, list).

    Every Markdown punctuation character gets a backslash, line breaks become spaces (no
    heading, list or quote can start a line) and leading spaces are dropped (no code block).
    ``None`` is the empty string.

    Parameters
    ----------
    text
        Text from the input data (an address, an area or scenario name, an id).

    Returns
    -------
    str
        Text safe to put inside ``st.markdown`` or ``st.caption``.
    """
    if text is None:
        return ""
    flat = " ".join(str(text).splitlines()).lstrip()
    return "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in flat)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NaT, pd.NA
    except (TypeError, ValueError):
        return False


def number(value: Any, language: str = "da", *, digits: int = 0, unit: str = "") -> str:
    """Format a number for people: rounded, Danish ``1.234,5``, English ``1,234.5``.

    Examples
    --------
    >>> number(1234.56, "da", digits=1, unit="m²")
    '1.234,6 m²'
    >>> number(float("nan"), "en")
    'no data'
    """
    if _missing(value):
        return t("field.no_data", language)
    v = float(value)
    if not math.isfinite(v):
        return t("field.no_data", language) if math.isnan(v) else ("∞" if v > 0 else "-∞")
    text = f"{v:,.{digits}f}"
    if language == "da":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return f"{text} {unit}" if unit else text


def percent(share: Any, language: str = "da", *, digits: int = 0, signed: bool = False,
            points: bool = False) -> str:
    """Format a share 0–1 as percent (``85 %`` / ``85%``), or a difference in points.

    Examples
    --------
    >>> percent(0.8529, "da")
    '85 %'
    >>> percent(-0.031, "en", signed=True, points=True)
    '-3 pp'
    """
    if _missing(share) or not math.isfinite(float(share)):
        return t("field.no_data", language)
    v = 100.0 * float(share)
    text = number(abs(v), language, digits=digits)
    if signed or v < 0:
        rounded_zero = round(abs(v), digits) == 0
        text = ("±" if rounded_zero else ("+" if v > 0 else "-")) + text
    if points:
        return f"{text} {'point' if language == 'da' else 'pp'}"
    return f"{text} %" if language == "da" else f"{text}%"


def kroner(value: Any, language: str = "da", *, per_month: bool = False) -> str:
    """Format an amount in Danish kroner, rounded to whole kroner (``7.500 kr./md.``).

    An infinite amount (no ceiling) is said as "no limit".
    """
    if not _missing(value) and math.isinf(float(value)):
        return t("word.no_limit", language)
    text = number(value, language)
    if _missing(value):
        return text
    unit = ("kr./md." if per_month else "kr.") if language == "da" else (
        "DKK/month" if per_month else "DKK")
    return f"{text} {unit}"


def local_time(value: Any, language: str = "da", *, date_only: bool = False) -> str:
    """Format a date or UTC time in Copenhagen time: ``17. jan. 2026 14:05``.

    A value without a time zone is a calendar date (or a UTC time when ``date_only`` is
    False and it carries a time of day).
    """
    import pandas as pd

    if _missing(value):
        return t("field.no_data", language)
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert(LOCAL_TZ)
    elif not date_only and (ts.hour or ts.minute or ts.second):
        ts = ts.tz_localize("UTC").tz_convert(LOCAL_TZ)
    month = _MONTHS["da" if language == "da" else "en"][ts.month - 1]
    day = f"{ts.day}. {month} {ts.year}" if language == "da" else f"{ts.day} {month} {ts.year}"
    if date_only:
        return day
    return f"{day} {ts.hour:02d}:{ts.minute:02d}"
