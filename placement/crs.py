"""Coordinate reference systems: store in EPSG:4326, compute in EPSG:25832."""

from __future__ import annotations

from typing import TypeVar

import geopandas as gpd
from pyproj import CRS
from pyproj.exceptions import CRSError as _PyprojCRSError

from placement._errors import CRSError

#: CRS in which loaders return geometries and exports/maps are written (WGS84 lon/lat).
STORAGE_CRS = "EPSG:4326"
#: CRS in which every distance and area is computed (ETRS89 / UTM zone 32N, metres).
WORK_CRS = "EPSG:25832"

_GEOMETRY = "<geometry>"
G = TypeVar("G", gpd.GeoDataFrame, gpd.GeoSeries)


def parse_crs(value: str | int, *, file: str = "dataset.toml", key: str = "crs") -> CRS:
    """Parse a CRS given as ``"EPSG:25832"`` or ``25832``.

    Parameters
    ----------
    value : str or int
        The CRS as written in a manifest.
    file, key : str
        Where the value came from, for the error message.

    Returns
    -------
    pyproj.CRS

    Raises
    ------
    CRSError
        If pyproj does not know the CRS.

    Examples
    --------
    >>> parse_crs("EPSG:25832").to_epsg()
    25832
    """
    text = f"EPSG:{value}" if isinstance(value, int) else str(value)
    try:
        return CRS.from_user_input(text)
    except _PyprojCRSError:
        msg = f"unknown CRS {value!r}; write it as 'EPSG:<code>', e.g. 'EPSG:25832' or 'EPSG:4326'"
        raise CRSError.single(file, msg, column=key) from None


def to_work(gdf: G) -> G:
    """Return a copy of ``gdf`` in :data:`WORK_CRS` (metres).

    Raises
    ------
    CRSError
        If ``gdf`` has no CRS (a CRS is never guessed).
    """
    if gdf.crs is None:
        msg = "geometry has no CRS; set one with .set_crs(...) before measuring"
        raise CRSError.single(_GEOMETRY, msg)
    return gdf.to_crs(WORK_CRS)


def to_storage(gdf: G) -> G:
    """Return a copy of ``gdf`` in :data:`STORAGE_CRS` (lon/lat) for display and export."""
    if gdf.crs is None:
        msg = "geometry has no CRS; set one with .set_crs(...) before exporting"
        raise CRSError.single(_GEOMETRY, msg)
    return gdf.to_crs(STORAGE_CRS)


def require_projected(gdf: gpd.GeoDataFrame | gpd.GeoSeries, name: str = "geometry") -> None:
    """Raise :class:`CRSError` unless ``gdf`` is in a projected CRS with metre units.

    Parameters
    ----------
    gdf : GeoDataFrame or GeoSeries
    name : str
        Name used in the message, e.g. ``"dwellings"``.
    """
    crs = gdf.crs
    if crs is None or not crs.is_projected:
        msg = f"{name} must be in a projected CRS (use to_work()); got {crs}"
        raise CRSError.single(name, msg)
