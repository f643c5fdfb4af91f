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
