"""Column names, types and units of every table placement reads or writes.

This module is the contract between the stages (load → validate → accessibility → score →
optimise → store → export). Loaders return exactly these columns; later stages read them by
these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["str", "int", "float", "date", "bool", "category"]


@dataclass(frozen=True, slots=True)
class Column:
    """One column of an input table.

    Attributes
    ----------
    name : str
        Column name in the file (lower case, as written in the header).
    kind : {"str", "int", "float", "date", "bool", "category"}
        ``date`` is ISO ``YYYY-MM-DD`` (Danish ``DD-MM-YYYY`` and ``DD.MM.YYYY`` are accepted);
        ``bool`` is yes/no (also ja/nej, true/false, 1/0).
    required : bool
        Whether the column must be present.
    unit : str
        Unit, or an empty string.
    minimum : float or None
        Smallest allowed value (inclusive) for numbers.
    positive : bool
        Whether the value must be strictly greater than zero.
    choices : tuple of str
        Allowed values for ``category`` columns.
    doc : str
        One line for the README.
    """

    name: str
    kind: Kind
    required: bool = True
    unit: str = ""
    minimum: float | None = None
    positive: bool = False
    choices: tuple[str, ...] = ()
    doc: str = ""


# --- Dwellings CSV -------------------------------------------------------------------------
# Coordinates are either lat/lon (WGS84) or x/y in the CRS named in dataset.toml.
DWELLINGS: tuple[Column, ...] = (
    Column("dwelling_id", "str", doc="Unique id of the dwelling (an id: see \"Bad input\")."),
    Column("address", "str", doc="Street address as shown to case handlers."),
    Column("lat", "float", required=False, unit="degrees", doc="Latitude, WGS84 (or use x/y)."),
    Column("lon", "float", required=False, unit="degrees", doc="Longitude, WGS84 (or use x/y)."),
    Column("x", "float", required=False, unit="CRS units", doc="Easting in the manifest's crs."),
    Column("y", "float", required=False, unit="CRS units", doc="Northing in the manifest's crs."),
    Column("rooms", "int", positive=True, doc="Number of rooms (værelser)."),
    Column("floor_area_m2", "float", unit="m²", positive=True, doc="Floor area."),
    Column("rent_dkk", "float", unit="DKK/month", positive=True, doc="Monthly rent."),
    Column("available_from", "date", doc="First day the dwelling can be let."),
    Column("permanent", "bool", doc="Permanent housing (yes) or temporary (no)."),
    Column("landlord", "str", doc="Landlord or housing association."),
    Column("step_free", "bool", doc="Step-free access (yes/no)."),
    Column("building_id", "str", required=False, doc="Building the dwelling is in (optional)."),
)

# --- Households CSV ------------------------------------------------------------------------
HOUSEHOLDS: tuple[Column, ...] = (
    Column("household_id", "str", doc="Pseudonymous id; never a CPR number or a name."),
    Column("adults", "int", positive=True, doc="Adults (18+)."),
    Column("children_0_5", "int", minimum=0, doc="Children aged 0–5 (daycare age)."),
    Column("children_6_16", "int", minimum=0, doc="Children aged 6–16 (school age)."),
    Column("children_17_plus", "int", minimum=0, doc="Children aged 17 and over."),
    Column("arrival_date", "date", doc="Date the household arrives in the municipality."),
    Column("step_free_needed", "bool", doc="Needs a step-free dwelling (yes/no)."),
    Column("anchor_lat", "float", required=False, unit="degrees", doc="Workplace/education."),
    Column("anchor_lon", "float", required=False, unit="degrees", doc="Workplace/education."),
)

# --- Residence history CSV -----------------------------------------------------------------
DESTINATIONS = ("within", "other_municipality", "abroad")
HISTORY: tuple[Column, ...] = (
    Column("person_id", "str", required=False, doc="Pseudonymous person id (or household_id)."),
    Column("household_id", "str", required=False, doc="Pseudonymous household id."),
    Column("placement_date", "date", doc="Date of the first placement in the municipality."),
    Column("dwelling_id", "str", required=False, doc="Dwelling at placement (or area_id)."),
    Column("area_id", "str", required=False, doc="Local area at placement (or dwelling_id)."),
    Column("integration_end", "date", required=False, doc="End of the integration period."),
    Column("moved_out_date", "date", required=False, doc="Date of a move (empty: no move)."),
    Column("destination", "category", required=False, choices=DESTINATIONS,
           doc="Where the move went: within, other_municipality or abroad."),
    Column("household_type", "str", required=False, doc="E.g. single, couple, family."),
    Column("persons", "int", required=False, positive=True, doc="Persons the row stands for."),
    Column("step_free_needed", "bool", required=False,
           doc="The household needed a step-free dwelling (yes/no; empty: unknown)."),
)

# --- Population CSV (as statistics offices publish it, keyed by area code) -------------------
POPULATION: tuple[Column, ...] = (
    Column("area_id", "str", doc="Local area code (e.g. sognekode)."),
    Column("population", "int", minimum=0, doc="Residents of the area."),
    Column("integration_residents", "int", required=False, minimum=0,
           doc="Residents already under the integration programme."),
)

# --- Geodata layers ------------------------------------------------------------------------
AREA_COLUMNS = ("area_id", "name", "population", "integration_residents")
DESIGNATED_KINDS = ("vulnerable", "parallel_society", "prevention", "cap_area")
DESIGNATED_COLUMNS = ("designated_id", "name", "kind")

# --- Amenity categories (see placement/data/amenity_tags.csv) --------------------------------
AMENITY_CATEGORIES = (
    "school",
    "upper_secondary",
    "daycare",
    "association",
    "library_culture",
    "supermarket",
    "doctor",
    "jobcenter",
    "language_school",
    "stop",
)

# --- Accessibility table (one row per dwelling, index dwelling_id) ---------------------------
WALK_THRESHOLDS_MIN = (10, 15, 30)
#: Destinations of the public-transport router.
PT_DESTINATIONS = ("jobcenter", "language_school", "centre", "upper_secondary")


def walk_min_col(category: str) -> str:
    """Column with the walking time to the nearest amenity of ``category``, in minutes."""
    return f"walk_{category}_min"


def count_col(category: str, threshold_min: int) -> str:
    """Column with the number of ``category`` amenities within ``threshold_min`` walking."""
    return f"n_{category}_within_{threshold_min}min"


def pt_col(destination: str, stat: Literal["median", "p80"]) -> str:
    """Column with the door-to-door public-transport time to ``destination``, in minutes."""
    return f"pt_{destination}_{stat}_min"


#: Further accessibility columns (besides the walk/count/pt families above).
ACCESS_EXTRA = (
    "snap_dist_m",  # metres from the dwelling to the walk network
    "off_network",  # True when snap_dist_m > 500 m: flagged, not silently snapped
    "walk_unknown",  # why walk/transit access is unknown ("" when measured)
    "osm_building",  # OSM building the dwelling lies in (way/<id>, "" when none)
    "walk_stop_min",  # minutes walking to the nearest served stop
    "departures_per_hour_500m",  # departures/h 06-20 at stops within 500 m walk
)
