"""Pages of the placement app. Thin: every number comes from the placement library."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from placement import auth, planning, store
from placement._errors import PlacementError
from placement.i18n import local_time, number, percent, t

APP_DIR = Path(__file__).resolve().parent
REPO_DEMO = APP_DIR.parent / "data" / "geo" / "demo"


# --- settings ----------------------------------------------------------------------------------
def setting(name: str, default: str) -> str:
    """Read a setting from the environment (``PLACEMENT_<NAME>``)."""
    return os.environ.get(f"PLACEMENT_{name.upper()}", default)


def dataset_dir() -> Path:
    """The dataset the app works on."""
    return Path(setting("dataset", str(REPO_DEMO)))


def policy_name() -> str:
    """The policy preset or file."""
    return setting("policy", "default")


def tiles() -> str | None:
    """Tile source: a preset name, a URL template, or none (vector layers only)."""
    value = setting("tiles", "openstreetmap")
    return None if value.lower() in ("", "none", "off") else value


# --- cached library calls ----------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def engine() -> Any:
    """The database (created/upgraded to the current schema on first use)."""
    from placement import db

    url = os.environ.get("PLACEMENT_DB") or db.default_db_url()
    db.upgrade(url)
    return db.open_engine(url)


@st.cache_resource(show_spinner=False)
def dataset(folder: str) -> Any:
    """The loaded dataset."""
    from placement.dataset import load_dataset

    return load_dataset(folder)


@st.cache_resource(show_spinner=False)
def access(folder: str) -> pd.DataFrame:
    """The accessibility table (disk-cached by the library too)."""
    return planning.accessibility(folder)


@st.cache_resource(show_spinner=False)
def amenities(folder: str) -> Any:
    """Amenities from the dataset's OSM file."""
    from placement.osm import amenities_from_file

    ds = dataset(folder)
    return amenities_from_file(ds.osm_path, boundary=ds.boundary)


@st.cache_resource(show_spinner=False)
def feed(folder: str) -> Any:
    """The GTFS feed, or None."""
    from placement.gtfs import load_gtfs
    from placement.gtfs_area import is_stop_list

    ds = dataset(folder)
    if ds.gtfs_path is None or is_stop_list(ds.gtfs_path):
        return None
    return load_gtfs(ds.gtfs_path, boundary=ds.boundary)


def users() -> auth.UserStore:
    """The users file as it is now (read again whenever it changes: no restart needed)."""
    return auth.users_file(setting("users", "users.toml")).current()


# --- sign-in -----------------------------------------------------------------------------------
def _sso_configured() -> bool:
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, KeyError, AttributeError, st.errors.StreamlitAPIException):
        return False
    except Exception:  # no secrets file at all
        return False


def _client() -> str:
    """The client's address: as Streamlit sees it, or from the proxy when it is trusted.

    Behind a reverse proxy Streamlit sees the proxy's address; with ``PLACEMENT_TRUST_PROXY=1``
    the first address of the proxy's ``X-Forwarded-For`` header is used instead (set it only
    when the proxy overwrites that header, or a client could choose its own address).
    """
    try:
        if setting("trust_proxy", "") == "1":
            forwarded = str(st.context.headers.get("X-Forwarded-For") or "").split(",")[0]
            if forwarded.strip():
                return forwarded.strip()
        return str(st.context.ip_address or "unknown")
    except Exception:  # no request context (e.g. AppTest)
        return "unknown"


def _still_valid(user: auth.User) -> auth.User | None:
    """The signed-in user as the users file has it now; None when removed or re-passworded."""
    current = users()
    fresh = current.current(user)
    known_hash = st.session_state.get("password_hash")
    if fresh is None or (known_hash is not None
                         and current.password_hash(user.username) != known_hash):
        return None
    return fresh


#: Puts Danish words in place of Streamlit's own texts (tooltips, menus, aria labels) in the
#: page that holds this frame; ``__LANG__`` and ``__TEXTS__`` are filled in. Only exact texts
#: of Streamlit's widgets are replaced, in its popups and in attributes, never page content.
_WIDGET_TEXT_SCRIPT = """
<script>
(function () {
  const doc = window.parent.document, win = window.parent;
  win.__placementLang = "__LANG__";
  win.__placementTexts = __TEXTS__;
  if (win.__placementObserver) { win.__placementFix(doc.body); return; }
  const POPUPS = '[data-baseweb="popover"],[data-baseweb="tooltip"],[role="tooltip"],' +
    '[role="listbox"],[role="menu"],[data-testid="stElementToolbar"],' +
    '[data-testid="stTooltipContent"],[data-testid="stDataFrameColumnMenu"],' +
    'a[href="#stMain"]';
  const ATTRS = ["aria-label", "title", "placeholder"];
  const origAttr = new WeakMap(), origText = new WeakMap();  // what Streamlit wrote
  function word(text) {
    if (text == null) return null;
    const key = text.trim();
    return Object.prototype.hasOwnProperty.call(win.__placementTexts, key)
      ? win.__placementTexts[key] : null;
  }
  function fixAttr(el, a) {
    const v = el.getAttribute(a);
    if (v == null) return;
    const o = origAttr.get(el) || {};
    if (win.__placementLang === "da") {
      const w = word(v);
      if (w !== null && w !== v) { o[a] = [v, w]; origAttr.set(el, o); el.setAttribute(a, w); }
    } else if (o[a] && v === o[a][1]) {
      el.setAttribute(a, o[a][0]);  // back to English after a switch of language
    }
  }
  function fixText(n) {
    const o = origText.get(n);
    if (win.__placementLang === "da") {
      const w = word(n.nodeValue);
      if (w !== null && w !== n.nodeValue) { origText.set(n, [n.nodeValue, w]); n.nodeValue = w; }
    } else if (o && n.nodeValue === o[1]) {
      n.nodeValue = o[0];
    }
  }
  function fix(root) {
    if (!root || root.nodeType !== 1) return;
    for (const el of [root, ...root.querySelectorAll("[aria-label],[title],[placeholder]")]) {
      for (const a of ATTRS) fixAttr(el, a);
    }
    const boxes = root.matches && root.matches(POPUPS) ? [root] : [];
    boxes.push(...root.querySelectorAll(POPUPS));
    if (root.closest && root.closest(POPUPS)) boxes.push(root);
    for (const box of boxes) {
      const walk = doc.createTreeWalker(box, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) fixText(n);
    }
  }
  win.__placementFix = fix;
  win.__placementObserver = new MutationObserver(function (records) {
    for (const r of records) {
      if (r.type === "attributes") fix(r.target);
      else if (r.type === "characterData") fix(r.target.parentElement);
      else r.addedNodes.forEach(function (n) { fix(n.nodeType === 1 ? n : n.parentElement); });
    }
  });
  win.__placementObserver.observe(doc.body, {childList: true, subtree: true,
    characterData: true, attributes: true, attributeFilter: ATTRS});
  fix(doc.body);
})();
</script>
"""


def widget_texts(lang: str) -> None:
    """Show Streamlit's own widget texts in the user's language (it has no setting for it).

    The table toolbar ("Download as CSV"), the column menu, select boxes' "Choose options" and
    the like come from Streamlit in English; in Danish the page replaces those exact texts by
    :data:`placement.i18n.WIDGET_TEXTS_DA` as they appear.
    """
    import streamlit.components.v1 as components

    from placement.i18n import WIDGET_TEXTS_DA

    texts = json.dumps(WIDGET_TEXTS_DA, ensure_ascii=True).replace("</", "<\\/")
    script = _WIDGET_TEXT_SCRIPT.replace("__LANG__", "da" if lang == "da" else "en")
    with st.sidebar:
        components.html(script.replace("__TEXTS__", texts), height=0)


def current_user(lang: str) -> auth.User | None:
    """Return the signed-in user, or show the sign-in form and return None."""
    from placement import signin

    if "user" in st.session_state:
        fresh = _still_valid(st.session_state["user"])
        if fresh is not None:
            st.session_state["user"] = fresh
            return fresh
        sign_out()
        st.warning(t("app.signed_out_changed", lang))
    if _sso_configured():
        if getattr(st.user, "is_logged_in", False):
            found = users().by_email(str(st.user.get("email", "")))
            if found is not None:
                signin.record_sso_sign_in(engine(), found, client=_client())
                st.session_state["user"] = found
                st.session_state.pop("password_hash", None)
                return found
            st.error(t("app.unknown_sso_user", lang))
            return None
        st.button(t("app.sign_in_sso", lang), on_click=st.login, key="sso")
    with st.form("sign_in"):
        username = st.text_input(t("app.username", lang), key="username")
        password = st.text_input(t("app.password", lang), type="password", key="password")
        submitted = st.form_submit_button(t("app.sign_in", lang))
    if submitted:
        result = signin.sign_in(engine(), users(), username, password, client=_client())
        if result.status == "locked":
            minutes = max(1, round(result.retry_after_s / 60))
            st.error(t("app.locked", lang, minutes=minutes))
            return None
        if result.user is None:
            st.error(t("app.wrong_password", lang))
            return None
        st.session_state["user"] = result.user
        st.session_state["password_hash"] = result.password_hash
        st.rerun()
    return None


def sign_out() -> None:
    """Forget the signed-in user."""
    for key in ("user", "password_hash", "run_id", "whatif_result", "selected_household",
                "run_changes"):
        st.session_state.pop(key, None)


def pages_for(user: auth.User) -> dict[str, Callable[[auth.User, str], None]]:
    """The pages the user's role may open, in menu order."""
    from retention_page import retention_page
    from review_page import review_page
    from whatif_page import whatif_page

    pages: dict[str, Callable[[auth.User, str], None]] = {"review": review_page}
    if user.can("scenarios"):
        pages["whatif"] = whatif_page
    pages["retention"] = retention_page
    pages["export"] = export_page
    return pages


# --- shared pieces -----------------------------------------------------------------------------
def runs() -> pd.DataFrame:
    """Every stored run (newest last)."""
    return store.list_runs(engine())


def open_run(run_id: int) -> None:
    """Make ``run_id`` the run the pages show from the next rerun on."""
    st.session_state["run_id"] = int(run_id)
    st.session_state["pending_run"] = int(run_id)


def selected_run(lang: str) -> int | None:
    """The base run the user looks at (a run chooser; the newest first)."""
    table = runs()
    base = table[table["scenario_id"].isna()] if len(table) else table
    if not len(base):
        return None
    ids = base["run_id"].astype(int).tolist()[::-1]
    pending = st.session_state.pop("pending_run", None)
    if pending in ids:
        st.session_state["run_select"] = pending  # before the widget exists: allowed
    current = st.session_state.get("run_id")
    if st.session_state.get("run_select") not in ids:
        st.session_state.pop("run_select", None)
    index = ids.index(current) if current in ids else 0
    created = dict(zip(base["run_id"].astype(int), base["created_at"], strict=True))
    run_id = st.selectbox(t("review.run", lang), ids, index=index, key="run_select",
                          format_func=lambda r: t("review.run_label", lang, run=r,
                                                  when=local_time(created.get(r), lang)))
    st.session_state["run_id"] = run_id
    return int(run_id)


@st.cache_resource(show_spinner=False)
def transit_layers(folder: str) -> tuple[Any, Any]:
    """The feed's stop table and route lines as the map draws them (computed once, not on
    every run of a page: a decision redraws the map's proposals only)."""
    from placement.mapview import route_lines, stop_service_table

    f = feed(folder)
    if f is None:
        return None, None
    return stop_service_table(f), route_lines(f)


def run_summary(run_id: int) -> dict[str, Any]:
    """The stored run's summary (aggregates: open to every role)."""
    return store.run_summary(engine(), run_id)


def metrics(run: dict[str, Any], lang: str, *, columns: Any = None) -> None:
    """The run's key figures, rounded for people (in four given columns, or a new row)."""
    summary = run.get("summary") or {}
    measures = summary.get("measures", {})
    cols = columns if columns is not None else st.columns(4)
    placed = run.get("n_placed")
    households = run.get("n_households")
    cols[0].metric(t("measure.placed", lang), number(placed, lang))
    cols[1].metric(t("measure.unplaced", lang),
                   number(None if placed is None or households is None
                          else int(households) - int(placed), lang))
    cols[2].metric(t("measure.gap", lang), percent(run.get("gap"), lang, digits=2))
    cols[3].metric(t("measure.served", lang), percent(measures.get("share_near_served_stop"),
                                                      lang))


def area_table(run: dict[str, Any]) -> pd.DataFrame:
    """Per-area persons against cap of a stored run (computed by the library).

    A run of the app's dataset is counted on the loaded dataset; a scenario or sweep run on
    its own dataset folder (its arrivals, dwellings and areas). When that folder changed or is
    gone, the page says so and shows no counts rather than counting on other data.
    """
    from placement import store

    run_id = int(run["run_id"])
    base = dataset(str(dataset_dir()))
    folder, _ = store.dataset_folder(engine(), int(run["dataset_id"]))
    if folder.resolve() == Path(dataset_dir()).resolve():
        return planning.run_area_table(engine(), run_id, base)
    try:
        return _own_area_table(run_id, str(folder))
    except PlacementError as err:
        st.warning(str(err))
        return planning.run_area_table(engine(), run_id, base).iloc[0:0]


@st.cache_data(show_spinner=False, ttl=60, max_entries=32)
def _own_area_table(run_id: int, folder: str) -> pd.DataFrame:
    """A run's area table on its own folder (hashes and loads it: once a minute at most)."""
    return planning.run_area_table(engine(), run_id)


def area_display(areas: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The area table with column names and numbers for people."""
    from placement.whatif import area_display as words

    return words(areas, lang)


def show_map(proposals: pd.DataFrame | None, areas: pd.DataFrame | None, lang: str,
             key: str, *, households: bool, alternatives: pd.DataFrame | None = None,
             center: tuple[float, float] | list[float] | None = None,
             zoom: float | None = None,
             feature_group: Any = None, returned: list[str] | None = None,
             height: int = 560, proposal_legend: bool = False) -> Any:
    """Draw the map with Leaflet served by the app itself; say so when its files are missing.

    The map never falls back to a CDN: without the files (``npm ci --prefix app``) the page
    says what to run instead of showing a blank map.
    """
    from streamlit_folium import st_folium

    from placement.mapview import DEFAULT_ASSET_BASE

    if not _assets_ready():
        st.error(t("map.assets_missing", lang))
        return None
    m = _cached_map(str(dataset_dir()), lang, proposals if households else None, areas,
                    alternatives, DEFAULT_ASSET_BASE, proposal_legend)
    return st_folium(m, height=height, use_container_width=True,
                     returned_objects=returned or [], key=key, center=center, zoom=zoom,
                     feature_group_to_add=feature_group)


def show_synced_maps(areas_a: pd.DataFrame | None, areas_b: pd.DataFrame | None, lang: str,
                     key: str, *, height: int = 420) -> Any:
    """Two runs' area maps side by side, panning and zooming together (Leaflet.Sync)."""
    from streamlit_folium import st_folium

    from placement.mapcompare import SyncedMaps
    from placement.mapview import DEFAULT_ASSET_BASE

    if not _assets_ready():
        st.error(t("map.assets_missing", lang))
        return None
    folder = str(dataset_dir())
    maps = SyncedMaps(_cached_map(folder, lang, None, areas_a, None, DEFAULT_ASSET_BASE),
                      _cached_map(folder, lang, None, areas_b, None, DEFAULT_ASSET_BASE),
                      asset_base=DEFAULT_ASSET_BASE)
    return st_folium(maps, height=height, use_container_width=True, returned_objects=[],
                     key=key)


def assets_ready() -> bool:
    """Whether the map's files are served by the app (``npm ci --prefix app`` was run)."""
    return _assets_ready()


@st.cache_resource(show_spinner=False, ttl=60)
def _assets_ready() -> bool:
    """Whether the map's files are served by the app (checked once a minute, not per click)."""
    from placement.mapview import install_assets

    try:
        install_assets(APP_DIR)
    except PlacementError:
        return False
    return True


def _cached_map(folder: str, lang: str, proposals: pd.DataFrame | None,
                areas: pd.DataFrame | None, alternatives: pd.DataFrame | None,
                asset_base: str, proposal_legend: bool = False) -> Any:
    """The folium map, built anew for every run.

    ``st_folium`` changes the map it is given while turning it into JavaScript, so a map object
    is never handed to it twice (a cached one drew a blank map on the next run); the layers
    behind it (accessibility, amenities, feed, area table) are cached.
    """
    from placement.mapview import build_map

    stops, lines = transit_layers(folder)
    return build_map(dataset(folder), access=access(folder), proposals=proposals,
                     alternatives=alternatives, area_table=areas, amenities=amenities(folder),
                     stops=stops, lines=lines, language=lang, tiles=tiles(),
                     asset_base=asset_base, proposal_legend=proposal_legend)


# --- pages ---------------------------------------------------------------------------------------
def _household_file(user: auth.User, run_id: int, kind: str, sep: str) -> Callable[[], bytes]:
    """A generator of a household-level export, run on click for this signed-in user."""
    folder = str(dataset_dir())

    def make() -> bytes:
        # Runs on Streamlit's download thread: check again that this user may have it now.
        current = _still_valid_for_download(user)
        with auth.acting_as(current), tempfile.TemporaryDirectory() as tmp:
            ds = dataset(folder)
            if kind == "csv":
                path = planning.export_run_csv(engine(), run_id, ds,
                                               Path(tmp) / f"proposals_run{run_id}.csv", sep=sep)
            else:
                path = planning.export_run_gpkg(engine(), run_id, ds,
                                                Path(tmp) / f"proposals_run{run_id}.gpkg")
            return path.read_bytes()

    return make


def _still_valid_for_download(user: auth.User) -> auth.User:
    fresh = users().current(user)
    if fresh is None or not fresh.can("households"):
        msg = f"user {user.username} may no longer download household-level files"
        raise auth.PermissionDeniedError(msg)
    return fresh


def export_page(user: auth.User, lang: str) -> None:
    """Downloads: proposals CSV and GeoPackage (coordinators), run summary (everyone)."""
    st.header(t("page.export", lang))
    run_id = selected_run(lang)
    if run_id is None:
        st.info(t("review.no_run", lang))
        return
    run = run_summary(run_id)
    if user.can("households"):
        sep = st.radio(t("export.sep", lang), [";", ","], horizontal=True, key="export_sep")
        # Household-level files are made only when the signed-in coordinator clicks: nothing
        # waits at a /media/ address for anyone who might learn it. A click does not rerun the
        # page: a rerun would register the file anew and could drop the one being requested
        # (the made file is then dropped after the page's next runs, as Streamlit does).
        st.download_button(t("export.csv", lang), _household_file(user, run_id, "csv", sep),
                           file_name=f"proposals_run{run_id}.csv", mime="text/csv",
                           key="dl_csv", on_click="ignore")
        st.download_button(t("export.gpkg", lang), _household_file(user, run_id, "gpkg", sep),
                           file_name=f"proposals_run{run_id}.gpkg",
                           mime="application/geopackage+sqlite3", key="dl_gpkg",
                           on_click="ignore")
    summary = {k: v for k, v in run.items() if k not in ("policy",)}
    st.download_button(t("export.summary", lang),
                       json.dumps(summary, default=str, indent=2, ensure_ascii=False),
                       file_name=f"run{run_id}_summary.json", mime="application/json",
                       key="dl_summary", on_click="ignore")


