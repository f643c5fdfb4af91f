"""Environment settings: cache folder, network access, timeouts. Policy lives in config.py."""

from __future__ import annotations

import os
from pathlib import Path

#: Folder for cached downloads (OSM, GTFS) and computed accessibility tables.
cache_folder: Path = Path(os.environ.get("PLACEMENT_CACHE", Path.home() / ".cache" / "placement"))
#: Online paths (OSM by place name, GTFS by URL) are refused unless this is True.
allow_network: bool = os.environ.get("PLACEMENT_ALLOW_NETWORK", "0") == "1"
#: Timeout for one HTTP request, in seconds.
requests_timeout_s: float = 180.0
#: How OSM files become the walk network: "arrays" (pyosmium straight into arrays, the default)
#: or "osmnx" (``osmnx.graph_from_xml``; the same network at about ten times the memory).
osm_loader: str = os.environ.get("PLACEMENT_OSM_LOADER", "arrays")
#: Hash passwords at a cheap scrypt cost. Only the test suite sets this (tests/conftest.py);
#: never set it for a real users file (such hashes are upgraded at the next sign-in anyway).
cheap_password_hashes_for_tests: bool = False
