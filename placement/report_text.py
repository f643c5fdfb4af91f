"""The words of the retention report in English and Danish.

The report (its HTML, PDF, the app's Retention page) and the notes of
:func:`placement.retention.retention_summary` take their sentences, headings and labels from
here, so one report reads in one language. The CSV keeps its machine-readable names
(``table``, ``group``, ``measure``) in every language: case-handling systems read it.
"""

from __future__ import annotations

import math
from typing import Any

from placement._errors import ConfigError

__all__ = ["REPORT_LANGUAGES", "check_language", "count_text", "group_text", "has_text", "pct",
           "say", "when"]

#: Languages a report can be written in.
REPORT_LANGUAGES = ("en", "da")

_TEXT: dict[str, tuple[str, str]] = {  # key: (English, Danish)
    # --- headings of a retention table
    "col.group": ("Group", "Gruppe"),
    "col.n": ("Persons", "Personer"),
    "col.stayers": ("Stayed", "Blev boende"),
    "col.leavers": ("Left", "Flyttede"),
    "col.censored": ("Not yet ended", "Endnu ikke afsluttet"),
    "col.rate": ("Retention", "Fastholdelse"),
    "col.ci_low": ("95 % CI low", "95 %-KI nedre"),
    "col.ci_high": ("95 % CI high", "95 %-KI øvre"),
    # --- groupings (titles of tables and charts)
    "grouping.overall": ("Retention {year}", "Fastholdelse {year}"),
    "grouping.trend": ("Retention by year of period end",
                       "Fastholdelse efter år for periodens afslutning"),
    "grouping.cohort": ("Placement year (arrival cohort)", "Placeringsår (ankomstårgang)"),
    "grouping.area_id": ("Local area at first placement", "Lokalområde ved første placering"),
    "grouping.household_type": ("Household type", "Husstandstype"),
    "grouping.audit_household_type": (
        "Fairness: household type (5 persons or more: large family)",
        "Lighed: husstandstype (5 personer eller flere: stor familie)"),
    "grouping.step_free_need": ("Fairness: step-free need", "Lighed: behov for niveaufri adgang"),
    "grouping.near_served_stop": ("Near a served stop (>= 2 departures/h within 500 m)",
                                  "Nær et betjent stoppested (mindst 2 afgange/time inden for "
                                  "500 m)"),
    "grouping.stop_within_10_min": ("Stop within 10 min walk",
                                    "Stoppested inden for 10 minutters gang"),
    "grouping.pooled": ("Retention {span} pooled ({n} years)",
                        "Fastholdelse {span} samlet ({n} år)"),
    "grouping.pooled_of": ("{title}, {span} pooled", "{title}, {span} samlet"),
    "grouping.trend_pooled": ("Retention by rolling {n}-year period",
                              "Fastholdelse i glidende {n}-årsperioder"),
    # --- group labels the analysis itself writes
    "group.all": ("all", "alle"),
    "group.yes": ("yes", "ja"),
    "group.no": ("no", "nej"),
    "group.unknown": ("unknown", "ukendt"),
    "group.needs step-free": ("needs step-free", "behov for niveaufri adgang"),
    "group.no step-free need": ("no step-free need", "intet behov for niveaufri adgang"),
    "group.single": ("single", "enlig"),
    "group.2 persons": ("2 persons", "2 personer"),
    "group.3-4 persons": ("3-4 persons", "3-4 personer"),
    "group.5+ persons": ("5+ persons", "5+ personer"),
    "group.large family": ("large family", "stor familie"),
    "group.couple": ("couple", "par"),
    "group.family": ("family", "familie"),
    "group.single parent": ("single parent", "enlig forsørger"),
    # --- words
    "word.fewer_than": ("Fewer than {k}", "Færre end {k}"),
    "word.fewer_than_lower": ("fewer than {k}", "færre end {k}"),
    "word.the_municipality": ("the municipality", "kommunen"),
    "word.everyone": ("everyone", "alle"),
    "word.yes": ("yes", "ja"),
    "word.no": ("no", "nej"),
    "word.value": ("Value", "Værdi"),
    "word.charts": ("Charts", "Diagrammer"),
    "word.notes": ("Notes", "Noter"),
    "word.data_as_of": ("Data as of {date}; {n} persons in the history.",
                        "Data pr. {date}; {n} personer i historikken."),
    # --- target
    "target.relative": ("+{x} % relative to the baseline", "+{x} % i forhold til basisåret"),
    "target.points": ("+{x} percentage points over the baseline",
                      "+{x} procentpoint over basisåret"),
    # --- title, comparison table, charts
    "title": ("Retention after the integration period {year}{where}",
              "Fastholdelse efter integrationsperioden {year}{where}"),
    "cmp.heading": ("Comparison with the target", "Sammenligning med målet"),
    "cmp.report_year": ("Report year", "Rapportår"),
    "cmp.baseline_year": ("Baseline year", "Basisår"),
    "cmp.target": ("Target", "Mål"),
    "cmp.result": ("Result", "Resultat"),
    "cmp.not_shown": ("not shown (a count is below {k})", "vises ikke (et antal er under {k})"),
    "cmp.retention": ("Retention {year}", "Fastholdelse {year}"),
    "cmp.target_rate": ("Target rate", "Målsat andel"),
    "cmp.change": ("Change (points)", "Ændring (procentpoint)"),
    "cmp.met": ("Target met", "Mål nået"),
    "chart.still_resident": ("Still resident (%)", "Stadig bosat (%)"),
    "chart.target": ("target {x}", "mål {x}"),
    "chart.years_since": ("Years since placement", "År siden placering"),
    "chart.still_in": ("Still in the municipality (%)", "Stadig i kommunen (%)"),
    "chart.trend_title": ("Retention by year the integration period ended",
                          "Fastholdelse efter året, integrationsperioden sluttede"),
    "chart.trend_x": ("Year of period end", "År for periodens afslutning"),
    "chart.trend_caption": ("Retention by year of period end (cohort), with 95 % intervals",
                            "Fastholdelse efter år for periodens afslutning (årgang), med "
                            "95 %-intervaller"),
    "chart.cohort_x": ("Placement year", "Placeringsår"),
    "chart.area_x": ("Local area", "Lokalområde"),
    "chart.rate_title": ("Retention {year}: {what}", "Fastholdelse {year}: {what}"),
    "chart.rate_caption": ("Retention {year} by {what}", "Fastholdelse {year} efter {what}"),
    "chart.km_title": ("Staying in the municipality: {what}", "Bliver i kommunen: {what}"),
    "chart.km_caption": ("Kaplan–Meier curve, {what}", "Kaplan–Meier-kurve, {what}"),
    # --- log-rank and Cox tables
    "lr.heading": ("Log-rank tests (time until moving out, by group)",
                   "Log-rank-test (tid til fraflytning, efter gruppe)"),
    "lr.grouping": ("Grouping", "Opdeling"),
    "lr.groups": ("Groups", "Grupper"),
    "lr.chi2": ("Chi-square", "Chi-i-anden"),
    "lr.df": ("df", "frihedsgrader"),
    "lr.p": ("p-value", "p-værdi"),
    "cox.heading": ("Cox model: hazard ratios of moving out (association, not cause)",
                    "Cox-model: hazard ratio for fraflytning (sammenhæng, ikke årsag)"),
    "cox.measure": ("Measure", "Placeringsmål"),
    "cox.hr": ("Hazard ratio", "Hazard ratio"),
    "cox.ci": ("95 % CI", "95 %-KI"),
    "measure.departures_per_hour_500m": (
        "Departures per hour within 500 m (per departure/h)",
        "Afgange i timen inden for 500 m (pr. afgang/time)"),
    "measure.n_association_within_15min": (
        "Associations within 15 min walk (per association)",
        "Foreninger inden for 15 minutters gang (pr. forening)"),
    "measure.area_integration_share": (
        "Share of integration residents in the area (per 1.0 = 100 %)",
        "Andel beboere i integrationsperioden i området (pr. 1,0 = 100 %)"),
    "measure.walk_stop_min": ("Walk to the nearest served stop (per minute)",
                              "Gang til nærmeste betjente stoppested (pr. minut)"),
    "note.association": (
        "Hazard ratios show association, not cause: households are not placed at random, and "
        "whatever drew a household to a dwelling may also make it stay or leave. A ratio above "
        "1 means more moves out of the municipality per year at higher values of the measure.",
        "Hazard ratios viser sammenhæng, ikke årsag: husstande placeres ikke tilfældigt, og det, "
        "der førte en husstand til en bolig, kan også få den til at blive eller flytte. En ratio "
        "over 1 betyder flere fraflytninger fra kommunen om året ved højere værdier af målet."),
    # --- the report's own notes
    "note.definition": (
        "Retention: of the persons whose integration period ended in the year, the share with "
        "no move to another municipality or abroad on or before the period's end. Moves within "
        "the municipality do not count as leaving. Persons whose period had not ended by "
        "{date} are not counted.",
        "Fastholdelse: blandt de personer, hvis integrationsperiode sluttede i året, andelen "
        "uden flytning til en anden kommune eller til udlandet senest ved periodens afslutning. "
        "Flytninger inden for kommunen tæller ikke som fraflytning. Personer, hvis periode ikke "
        "var afsluttet pr. {date}, tælles ikke med."),
    "note.suppression": (
        "Counts below {k} are shown as '{label}', together with the rates derived from them; "
        "when one group alone is hidden, the next smallest group is hidden too, so that it "
        "cannot be worked out from the total. Kaplan–Meier curves leave out groups of fewer "
        "than {k} persons and stop where fewer than {k} remain at risk.",
        "Antal under {k} vises som '{label}', sammen med de andele, der er beregnet ud fra dem; "
        "når kun én gruppe er skjult, skjules også den næstmindste, så den ikke kan regnes ud "
        "fra totalen. Kaplan–Meier-kurverne udelader grupper med færre end {k} personer og "
        "stopper, hvor færre end {k} stadig er i risiko."),
    "note.intervals": (
        "Intervals: 95 % Wilson score intervals for rates; 95 % Greenwood (exponential) "
        "intervals for the curves.",
        "Intervaller: 95 % Wilson-score-intervaller for andele; 95 % Greenwood-intervaller "
        "(eksponentielle) for kurverne."),
    # --- the summary in words
    "s.none_ended": (
        "No person's integration period ended in {year} by {date}, so there is no retention "
        "rate for {year} yet; the survival curves show how many have moved out of {where} so "
        "far.",
        "Ingen persons integrationsperiode sluttede i {year} pr. {date}, så der er endnu ingen "
        "fastholdelse for {year}; overlevelseskurverne viser, hvor mange der indtil nu er "
        "flyttet fra {where}."),
    "s.too_few": (
        "Fewer than {k} persons' integration period ended in {year}; the retention rate is not "
        "shown, so that no one can be recognised.",
        "Færre end {k} personers integrationsperiode sluttede i {year}; fastholdelsen vises "
        "ikke, så ingen kan genkendes."),
    "s.count_hidden": (
        "Of the {n} persons whose integration period ended in {year}, the number who still "
        "lived in {where} is not shown because a count is below {k} ({label}).",
        "Af de {n} personer, hvis integrationsperiode sluttede i {year}, vises antallet, der "
        "stadig boede i {where}, ikke, fordi et antal er under {k} ({label})."),
    "s.rate": (
        "Of the {n} persons whose integration period ended in {year}, {stayers} ({rate}, 95 % "
        "CI {low}–{high}) still lived in {where} at the end of the period; {leavers} had moved "
        "to another municipality or abroad.",
        "Af de {n} personer, hvis integrationsperiode sluttede i {year}, boede {stayers} "
        "({rate}, 95 %-KI {low}–{high}) stadig i {where} ved periodens afslutning; {leavers} "
        "var flyttet til en anden kommune eller til udlandet."),
    "s.pooled_none": ("Pooled over {span}, nobody's integration period has ended yet.",
                      "Samlet over {span} er ingens integrationsperiode endnu afsluttet."),
    "s.pooled_hidden": (
        "Even pooled over {span} (as official statistics do when a year is too small), a count "
        "is below {k}, so the pooled rate is not shown either.",
        "Selv samlet over {span} (som den officielle statistik gør, når et år er for lille) er "
        "et antal under {k}, så den samlede andel vises heller ikke."),
    "s.pooled": (
        "As official statistics do when a year is too small, the years {span} are pooled: of "
        "the {n} persons whose integration period ended in {span}, {stayers} ({rate}, 95 % CI "
        "{low}–{high}) still lived in {where} at the end of the period; {leavers} had moved "
        "away.",
        "Som den officielle statistik gør, når et år er for lille, er årene {span} lagt "
        "sammen: af de {n} personer, hvis integrationsperiode sluttede i {span}, boede "
        "{stayers} ({rate}, 95 %-KI {low}–{high}) stadig i {where} ved periodens afslutning; "
        "{leavers} var flyttet."),
    "s.censored": (
        "{count} persons whose period ends later in {year} (after {date}) are not yet counted.",
        "{count} personer, hvis periode slutter senere i {year} (efter {date}), er endnu ikke "
        "talt med."),
    "s.cmp_hidden": (
        "The comparison with {base} and the target ({target}) is not shown: a count is below "
        "{k}.",
        "Sammenligningen med {base} og målet ({target}) vises ikke: et antal er under {k}."),
    "s.cmp": (
        "The target for {year} was {target_rate} ({target}; {base}: {base_rate}); at {rate} it "
        "{verdict} ({diff} points against {base}).",
        "Målet for {year} var {target_rate} ({target}; {base}: {base_rate}); med {rate} blev "
        "det {verdict} ({diff} procentpoint i forhold til {base})."),
    "s.met": ("was met", "nået"),
    "s.not_met": ("was not met", "ikke nået"),
    "s.logrank_differs": (
        "Time until moving out differs between groups by {names} (log-rank p < 0.05).",
        "Tiden til fraflytning er forskellig mellem grupperne efter {names} (log-rank "
        "p < 0,05)."),
    "s.logrank_same": (
        "Time until moving out does not differ clearly between the groups compared (every "
        "log-rank p >= 0.05).",
        "Tiden til fraflytning er ikke tydeligt forskellig mellem de sammenlignede grupper "
        "(alle log-rank p ≥ 0,05)."),
    # --- notes of the analysis (placement.retention.retention_summary)
    "n.data_date": (
        "The data date is {date}, the last date in the residence history: persons whose "
        "integration period ends after it are censored (their outcome is not known yet) and "
        "never counted as stayers or leavers.",
        "Datadatoen er {date}, den sidste dato i bopælshistorikken: personer, hvis "
        "integrationsperiode slutter senere, er censurerede (deres udfald kendes endnu ikke) og "
        "tælles aldrig som blevet eller flyttet."),
    "n.covers": ("the data covers the years {first}-{last}", "data dækker årene {first}-{last}"),
    "n.none_by_then": ("no period has ended by then", "ingen periode er afsluttet til den tid"),
    "n.no_rate": (
        "No person's integration period ended in {year} by {date}, so there is no retention "
        "rate for {year} ({covered}); in this history periods end between {first} and {last}. "
        "The survival curves below still show how many have moved out so far.",
        "Ingen persons integrationsperiode sluttede i {year} pr. {date}, så der er ingen "
        "fastholdelse for {year} ({covered}); i denne historik slutter perioderne mellem "
        "{first} og {last}. Overlevelseskurverne nedenfor viser stadig, hvor mange der indtil "
        "nu er flyttet."),
    "n.area_from_dwelling": (
        "{count} persons have no area in the history: their area of first placement is the "
        "local area their dwelling lies in.",
        "{count} personer har intet område i historikken: deres område ved første placering er "
        "det lokalområde, deres bolig ligger i."),
    "n.type_from_size": (
        "{count} persons have no household type in the history: it is derived from the persons "
        "per household (single, 2 persons, 3-4 persons, 5+ persons).",
        "{count} personer har ingen husstandstype i historikken: den er udledt af antallet af "
        "personer i husstanden (enlig, 2 personer, 3-4 personer, 5+ personer)."),
    "n.censored": (
        "{count} persons whose period ends in {year} after {date} are censored: not counted as "
        "stayers or leavers.",
        "{count} personer, hvis periode slutter i {year} efter {date}, er censurerede: de "
        "tælles hverken som blevet eller flyttet."),
    "n.no_step_free": (
        "Fairness: the residence history does not record step-free need (column "
        "step_free_needed), so retention by step-free need is unknown; it is not shown, and not "
        "counted as 0.",
        "Lighed: bopælshistorikken registrerer ikke behov for niveaufri adgang (kolonnen "
        "step_free_needed), så fastholdelse efter dette behov er ukendt; den vises ikke og "
        "tælles ikke som 0."),
    "n.step_free_unknown": (
        "Fairness: {count} persons have no step-free need recorded; they form the group "
        "'unknown' (not counted as having no need).",
        "Lighed: {count} personer har intet registreret behov for niveaufri adgang; de udgør "
        "gruppen 'ukendt' (tælles ikke som uden behov)."),
    "n.pooled": (
        "{year} alone is too small to publish its retention rate (a count is below {k}). As "
        "official statistics do for small populations, the years {span} are pooled: everyone "
        "whose integration period ended in {span} is counted together, and the trend is shown "
        "for rolling {n}-year periods. Counts below {k} stay hidden in the pooled figures too.",
        "{year} alene er for lille til at offentliggøre fastholdelsen (et antal er under {k}). "
        "Som den officielle statistik gør for små befolkninger, er årene {span} lagt sammen: "
        "alle, hvis integrationsperiode sluttede i {span}, tælles sammen, og udviklingen vises "
        "for glidende {n}-årsperioder. Antal under {k} forbliver skjult i de samlede tal."),
    "n.no_comparison": (
        "No comparison with the target: nobody's integration period ended in {year}, so that "
        "year has no retention rate.",
        "Ingen sammenligning med målet: ingens integrationsperiode sluttede i {year}, så året "
        "har ingen fastholdelse."),
    "n.households": (
        "Persons of one household usually move together; the log-rank tests count persons as "
        "independent, so their p-values are too small when households are large. The Cox "
        "model's intervals allow for households.",
        "Personer i samme husstand flytter som regel sammen; log-rank-testene regner personer "
        "som uafhængige, så deres p-værdier er for små, når husstandene er store. Cox-modellens "
        "intervaller tager højde for husstande."),
    "n.cox_no_measures": ("Cox model skipped: no placement measures in the history.",
                          "Cox-model udeladt: ingen placeringsmål i historikken."),
    "n.cox_few_exits": ("Cox model skipped: {n} exits, fewer than {k}.",
                        "Cox-model udeladt: {n} fraflytninger, færre end {k}."),
    "n.cox_failed": ("Cox model not estimated: {err}", "Cox-model ikke estimeret: {err}"),
    "n.cox_left_out": ("Cox model: {n} persons without measures left out.",
                       "Cox-model: {n} personer uden mål er udeladt."),
    "n.cox_constant": ("Cox model: no variation in {names}; left out.",
                       "Cox-model: ingen variation i {names}; udeladt."),
    "n.cox_warning": ("Cox model warning: {text}", "Advarsel fra Cox-modellen: {text}"),
    "n.population_unknown": (
        "No population per local area was given: the area caps are off, and the spread over "
        "local areas follows the number of available dwellings in each area instead of its "
        "population; the share of integration residents per area is unknown.",
        "Der er ikke angivet befolkningstal pr. lokalområde: områdelofterne er slået fra, og "
        "spredningen over lokalområderne følger antallet af ledige boliger i hvert område i "
        "stedet for befolkningen; andelen af beboere i integrationsperioden pr. område er "
        "ukendt."),
    "n.fairness": ("Fairness audit: {note}", "Lighedsrevision: {note}"),
    "n.fairness_model": ("Fairness audit, retention model: {words}",
                         "Lighedsrevision, fastholdelsesmodel: {words}"),
}


def check_language(language: str) -> str:
    """Return ``language`` if a report can be written in it; raise :class:`ConfigError` if not."""
    if language not in REPORT_LANGUAGES:
        msg = f"language: expected one of {', '.join(REPORT_LANGUAGES)}, got {language!r}"
        raise ConfigError(msg)
    return language


def say(key: str, language: str = "en", **values: Any) -> str:
    """Return the report text ``key`` in ``language`` with its ``{fields}`` filled in.

    Examples
    --------
    >>> say("cmp.target", "da")
    'Mål'
    """
    text = _TEXT[key][REPORT_LANGUAGES.index(check_language(language))]
    return text.format(**values) if values else text


def has_text(key: str) -> bool:
    """Whether ``key`` has a report text."""
    return key in _TEXT


def group_text(group: object, language: str = "en") -> str:
    """Return a group label the analysis writes (``all``, ``yes``, ``unknown``...) in ``language``.

    Labels from the input data (area names, household types of the history) stay as they are.
    """
    key = f"group.{group}"
    return say(key, language) if key in _TEXT else str(group)


def pct(x: float | None, language: str = "en") -> str:
    """Return a share as percent, one decimal (``85.3 %``, Danish ``85,3 %``); ``–``: unknown."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    text = f"{x * 100:.1f}"
    return f"{text.replace('.', ',') if language == 'da' else text} %"


def count_text(count: int, min_cell: int, language: str = "en", *, lower: bool = False) -> str:
    """Return a count for a sentence, or "Fewer than 5" where it is suppressed."""
    if count >= min_cell:
        return str(count)
    return say("word.fewer_than_lower" if lower else "word.fewer_than", language, k=min_cell)


def when(value: Any, language: str = "en") -> str:
    """Return a date for a sentence: ISO ``2026-12-31`` in English, ``31. dec. 2026`` in Danish."""
    import pandas as pd

    ts = pd.Timestamp(value)
    if language == "da":
        from placement.i18n import local_time

        return local_time(ts, "da", date_only=True)
    return str(ts.date())
