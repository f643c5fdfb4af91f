"""placement: plan permanent housing for newly arrived refugee households.

A Danish municipality must house the refugees it is assigned. ``placement`` turns municipal
geodata, OpenStreetMap, GTFS timetables and lists of dwellings and households into measured
accessibility, optimised household→dwelling proposals, what-if scenarios and a retention report.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__"]
