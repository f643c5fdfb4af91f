from __future__ import annotations

import itertools
import math
import tempfile
from pathlib import Path

import gtfs_kit as gk
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from gtfs_tiny import EVERY_DAY, Feed, Trip, line_stops, write_feed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from placement import transit

INF = np.inf
H = 3600
M = 60


def load(feed: Feed, folder: Path, date: str = "2024-01-09") -> transit.Timetable:
    path = write_feed(feed, folder / "gtfs.zip")
    return transit.build_timetable(gk.read_feed(path, dist_units="km"), date)


def route(
    tt: transit.Timetable,
    *,
    access: list[dict[str, float]],
    egress: dict[str, float],
    departures: list[int],
    walk: list[float] | None = None,
    footpaths: dict[tuple[str, str], float] | None = None,
    min_transfer_s: int = 60,
    max_travel_s: int = 3 * H,
) -> np.ndarray:
    n = tt.n_stops
    rows, cols, vals = [], [], []
    for o, acc in enumerate(access):
        for s, a in acc.items():
            rows.append(o)
            cols.append(int(tt.stop_index(s)[0]))
            vals.append(a)
    acc_m = sp.csr_matrix((vals, (rows, cols)), shape=(len(access), n))
    eg = np.full(n, INF)
    for s, e in egress.items():
        eg[tt.stop_index(s)[0]] = e
    fp = footpaths or {}
    fp_m = sp.csr_matrix(
        (
            list(fp.values()),
            ([int(tt.stop_index(a)[0]) for a, _ in fp], [int(tt.stop_index(b)[0]) for _, b in fp]),
        ),
        shape=(n, n),
    )
    walk_s = np.full(len(access), INF) if walk is None else np.asarray(walk, dtype=float)
    return transit.door_to_door_times(
        tt, acc_m, eg, walk_s, fp_m, np.asarray(departures),
        min_transfer_s=min_transfer_s, max_travel_s=max_travel_s,
    )


# ------------------------------------------------------------------------------------------
# Hand-computed journeys
# ------------------------------------------------------------------------------------------

STOPS = line_stops(8)  # S0..S7


def transfer_feed() -> Feed:
    return Feed(
        stops=STOPS,
        trips=[
            Trip("T1", [("S0", 8 * H, 8 * H), ("S1", 8 * H + 10 * M, 8 * H + 10 * M)], "R1"),
            # leaves S1 30 s after T1 arrives: too soon for a 60 s change, fine for 20 s
            Trip("T3", [("S1", 8 * H + 10 * M + 30, 8 * H + 10 * M + 30), ("S2", 8 * H + 20 * M,
                                                                          8 * H + 20 * M)], "R3"),
            Trip("T2", [("S1", 8 * H + 12 * M, 8 * H + 12 * M), ("S2", 8 * H + 30 * M,
                                                                8 * H + 30 * M)], "R2"),
            # from S3, a footpath away from S1
            Trip("T4", [("S3", 8 * H + 13 * M, 8 * H + 13 * M), ("S2", 8 * H + 25 * M,
                                                                8 * H + 25 * M)], "R4"),
            # a loop visiting S5 twice: S4 -> S5 -> S6 -> S5 -> S7
            Trip("L", [("S4", 9 * H, 9 * H), ("S5", 9 * H + 5 * M, 9 * H + 5 * M),
                       ("S6", 9 * H + 10 * M, 9 * H + 10 * M),
                       ("S5", 9 * H + 15 * M, 9 * H + 16 * M), ("S7", 9 * H + 20 * M, None)]),
        ],
    )


def test_transfer_at_a_stop(tmp_path: Path) -> None:
    tt = load(transfer_feed(), tmp_path)
    out = route(
        tt,
        access=[{"S0": 120}, {"S0": 300}],
        egress={"S2": 180},
        departures=[7 * H + 55 * M, 7 * H + 59 * M],
        walk=[INF, 3600],
    )
    # 07:55 walk 2 min → S0 07:57, T1 08:00 → S1 08:10, T3 (08:10:30) too soon with 60 s,
    # T2 08:12 → S2 08:30, walk 3 min → 08:33: 38 min.
    assert out[0, 0] == 38 * M
    # 07:59 + 2 min = 08:01: T1 missed, no other way.
    assert out[0, 1] == INF
    # origin 1 walks 5 min: 07:55 → 08:00 catches T1 exactly; 07:59 misses it → walking 60 min.
    assert out[1].tolist() == [38 * M, 3600]
    # a 20 s change allows T3: 08:10:30 → 08:20, +3 min = 08:23: 28 min
    out20 = route(tt, access=[{"S0": 120}], egress={"S2": 180}, departures=[7 * H + 55 * M],
                  min_transfer_s=20)
    assert out20[0, 0] == 28 * M


def test_transfer_via_footpath(tmp_path: Path) -> None:
    tt = load(transfer_feed(), tmp_path)
    # S1 08:10 + 90 s walk + 60 s change = 08:12:30 ≤ T4 08:13 → S2 08:25 + 3 min = 08:28
    out = route(tt, access=[{"S0": 120}], egress={"S2": 180}, departures=[7 * H + 55 * M],
                footpaths={("S1", "S3"): 90})
    assert out[0, 0] == 33 * M
    # 121 s of walking is one second too long: back to T2 (38 min)
    out = route(tt, access=[{"S0": 120}], egress={"S2": 180}, departures=[7 * H + 55 * M],
                footpaths={("S1", "S3"): 121})
    assert out[0, 0] == 38 * M
    # a footpath in the other direction only does not help
    out = route(tt, access=[{"S0": 120}], egress={"S2": 180}, departures=[7 * H + 55 * M],
                footpaths={("S3", "S1"): 10})
    assert out[0, 0] == 38 * M


def test_trip_visiting_a_stop_twice(tmp_path: Path) -> None:
    tt = load(transfer_feed(), tmp_path)
    # at S5 at 09:04: board at 09:05, stay seated round the loop to S7 at 09:20 → 16 min.
    out = route(tt, access=[{"S5": 0}], egress={"S7": 0}, departures=[9 * H + 4 * M])
    assert out[0, 0] == 16 * M
    # at 09:06 the first visit is gone; the second visit departs 09:16 → 09:20: 14 min
    out = route(tt, access=[{"S5": 0}], egress={"S7": 0}, departures=[9 * H + 6 * M])
    assert out[0, 0] == 14 * M
    # S6 → S5 around the loop
    out = route(tt, access=[{"S4": 60}], egress={"S6": 30}, departures=[8 * H + 50 * M])
    assert out[0, 0] == 20 * M + 30


def midnight_feed() -> Feed:
    return Feed(
        stops=STOPS,
        services=[EVERY_DAY, ("MON", "1000000", "20240101", "20241231"),
                  ("TUE", "0100000", "20240101", "20241231")],
        trips=[
            # runs on Mondays, after midnight: Tuesday 00:20 → 00:40
            Trip("N1", [("S0", 24 * H + 20 * M, 24 * H + 20 * M),
                        ("S1", 24 * H + 40 * M, 24 * H + 40 * M)], service_id="MON"),
            # runs on Tuesdays across midnight: 23:50 → 24:10 → 24:30
            Trip("N2", [("S2", 23 * H + 50 * M, 23 * H + 50 * M),
                        ("S3", 24 * H + 10 * M, 24 * H + 10 * M),
                        ("S4", 24 * H + 30 * M, 24 * H + 30 * M)], service_id="TUE"),
        ],
    )


def test_trip_after_midnight_of_previous_day(tmp_path: Path) -> None:
    feed = midnight_feed()
    tue = load(feed, tmp_path, "2024-01-09")
    # 00:15 + 1 min walk, Monday's 24:20 trip at 00:20 → 00:40, +2 min = 00:42: 27 min
    out = route(tue, access=[{"S0": 60}], egress={"S1": 120}, departures=[15 * M])
    assert out[0, 0] == 27 * M
    # Monday's own early morning has no such trip (Sunday does not run it)
    mon = load(feed, tmp_path, "20240108")
    assert route(mon, access=[{"S0": 60}], egress={"S1": 120}, departures=[15 * M])[0, 0] == INF
    # the same trip is also usable late on Monday itself at 24:20
    out = route(mon, access=[{"S0": 60}], egress={"S1": 120}, departures=[24 * H + 15 * M])
    assert out[0, 0] == 27 * M


def test_trip_across_midnight(tmp_path: Path) -> None:
    feed = midnight_feed()
    tue = load(feed, tmp_path, "2024-01-09")
    # Tuesday 23:45, walk 1 min, 23:50 → 24:30, +2 min = 24:32: 47 min
    out = route(tue, access=[{"S2": 60}], egress={"S4": 120}, departures=[23 * H + 45 * M])
    assert out[0, 0] == 47 * M
    wed = load(feed, tmp_path, "2024-01-10")
    # Wednesday 00:05 at S3: Tuesday's trip passes at 00:10 → S4 00:30, +2 = 00:32: 27 min
    out = route(wed, access=[{"S3": 0}], egress={"S4": 120}, departures=[5 * M])
    assert out[0, 0] == 27 * M
    # its first leg left S2 at 23:50 on Tuesday: not boardable on Wednesday
    out = route(wed, access=[{"S2": 0}], egress={"S4": 120}, departures=[0])
    assert out[0, 0] == INF
    assert transit.stop_departures(wed, 0, H).tolist() == [0, 0, 0, 1, 0, 0, 0, 0]


def calendar_feed() -> Feed:
    return Feed(
        stops=STOPS,
        services=[("WK", "1111100", "20240101", "20241231"),
                  ("WK2", "1111100", "20240101", "20241231")],
        calendar_dates=[("WK", "20240110", 2), ("WK", "20240113", 1)],
        trips=[
            Trip("W1", [("S0", 8 * H, 8 * H), ("S1", 8 * H + 20 * M, None)], service_id="WK"),
            Trip("W2", [("S0", 9 * H, 9 * H), ("S1", 9 * H + 20 * M, None)], service_id="WK2"),
        ],
    )


@pytest.mark.parametrize(
    ("date", "expected_s", "walk_s"),
    [
        ("2024-01-09", 8 * H + 20 * M + 60 - (7 * H + 55 * M), INF),  # Tuesday: W1, 26 min
        ("2024-01-10", 9 * H + 20 * M + 60 - (7 * H + 55 * M), INF),  # W1 removed: W2, 86 min
        ("2024-01-10", 50 * M, 50 * M),  # W1 removed, walking (50 min) beats waiting for W2
        ("2024-01-13", 8 * H + 20 * M + 60 - (7 * H + 55 * M), INF),  # Saturday added for WK
        ("2024-01-14", INF, INF),  # Sunday: no service at all
    ],
)
def test_calendar_exceptions(
    tmp_path: Path, date: str, expected_s: float, walk_s: float
) -> None:
    tt = load(calendar_feed(), tmp_path, date)
    out = route(tt, access=[{"S0": 60}], egress={"S1": 60}, departures=[7 * H + 55 * M],
                walk=[walk_s])
    assert out[0, 0] == expected_s


def test_interpolated_times_and_route_ids(tmp_path: Path) -> None:
    # S0..S3 equally spaced; only first and last timed: S1 at 08:10, S2 at 08:20
    feed = Feed(stops=STOPS, trips=[Trip("I", [("S0", None, 8 * H), ("S1", None, None),
                                              ("S2", None, None), ("S3", 8 * H + 30 * M, None)],
                                         route_id="BUS7")])
    tt = load(feed, tmp_path)
    assert tt.dep_s.tolist() == [8 * H, 8 * H + 10 * M, 8 * H + 20 * M]
    assert tt.arr_s.tolist() == [8 * H + 10 * M, 8 * H + 20 * M, 8 * H + 30 * M]
    assert tt.route_ids[tt.trip].tolist() == ["BUS7"] * 3
    out = route(tt, access=[{"S1": 0}], egress={"S2": 0}, departures=[8 * H + 5 * M])
    assert out[0, 0] == 15 * M


def test_interpolated_times_are_truncated_not_rounded(tmp_path: Path) -> None:
    # S0..S3 equally spaced, 5 s from S0 to S3: S1 at 1.67 s, S2 at 3.33 s -> 1 s and 3 s
    feed = Feed(stops=STOPS, trips=[Trip("I", [("S0", None, 8 * H), ("S1", None, None),
                                              ("S2", None, None), ("S3", 8 * H + 5, None)])])
    tt = load(feed, tmp_path)
    assert tt.dep_s.tolist() == [8 * H, 8 * H + 1, 8 * H + 3]
    assert tt.arr_s.tolist() == [8 * H + 1, 8 * H + 3, 8 * H + 5]


def test_a_departure_before_the_arrival_never_rides_backwards_in_time(tmp_path: Path) -> None:
    # A 06:00, B arrives 06:10 and departs 06:05, C 06:07: never A -> C in 7 minutes
    t = 6 * H
    feed = Feed(stops=STOPS, trips=[Trip("T", [("S0", t, t), ("S1", t + 10 * M, t + 5 * M),
                                              ("S2", t + 7 * M, None)])])
    tt = load(feed, tmp_path)
    assert np.all(tt.arr_s >= tt.dep_s)
    out = route(tt, access=[{"S0": 0}], egress={"S2": 0}, departures=[t])
    assert out[0, 0] == INF or out[0, 0] >= 10 * M


def test_zero_change_time_follows_zero_length_rides_across_trips(tmp_path: Path) -> None:
    # T1 rides S0 -> S1 in no time at 08:00; T0 leaves S1 at 08:00 (also in no time to S2) and
    # goes on to S3. T0 sorts before T1, so one pass in sort order would miss the change.
    t = 8 * H
    feed = Feed(stops=STOPS, trips=[
        Trip("T0", [("S1", t, t), ("S2", t, t), ("S3", t + 10 * M, None)]),
        Trip("T1", [("S0", t, t), ("S1", t, None)]),
    ])
    tt = load(feed, tmp_path)
    kw = {"access": [{"S0": 0}], "egress": {"S3": 0}, "departures": [t]}
    assert route(tt, min_transfer_s=0, **kw)[0, 0] == 10 * M
    assert route(tt, min_transfer_s=1, **kw)[0, 0] == INF
    acc, eg = np.full(tt.n_stops, INF), np.full(tt.n_stops, INF)
    acc[tt.stop_index("S0")[0]] = 0
    eg[tt.stop_index("S3")[0]] = 0
    fp = sp.csr_matrix((tt.n_stops, tt.n_stops))
    assert transit.earliest_arrival(tt, acc, eg, fp, t, min_transfer_s=0) == t + 10 * M


def test_frequencies_expanded(tmp_path: Path) -> None:
    feed = Feed(stops=STOPS,
                trips=[Trip("F", [("S0", 0, 0), ("S1", 5 * M, 5 * M)])],
                frequencies=[("F", 8 * H, 9 * H, 15 * M)])
    tt = load(feed, tmp_path)
    assert tt.dep_s.tolist() == [8 * H, 8 * H + 15 * M, 8 * H + 30 * M, 8 * H + 45 * M]
    out = route(tt, access=[{"S0": 0}], egress={"S1": 0}, departures=[8 * H + 1])
    assert out[0, 0] == 20 * M - 1


def test_max_travel_and_input_checks(tmp_path: Path) -> None:
    tt = load(transfer_feed(), tmp_path)
    kw = {"access": [{"S0": 120}], "egress": {"S2": 180}, "departures": [7 * H + 55 * M]}
    assert route(tt, max_travel_s=38 * M, **kw)[0, 0] == 38 * M
    assert route(tt, max_travel_s=38 * M - 1, **kw)[0, 0] == INF
    with pytest.raises(ValueError, match="egress has shape"):
        transit.door_to_door_times(
            tt, sp.csr_matrix((1, tt.n_stops)), np.zeros(3), np.zeros(1),
            sp.csr_matrix((tt.n_stops, tt.n_stops)), np.array([0]),
        )
    with pytest.raises(ValueError, match="min_transfer_s"):
        route(tt, min_transfer_s=-1, **kw)
    assert route(tt, min_transfer_s=0, **kw)[0, 0] <= route(tt, min_transfer_s=1, **kw)[0, 0]
    with pytest.raises(KeyError, match="nope"):
        tt.stop_index("nope")


# ------------------------------------------------------------------------------------------
# Independent brute force: a time-expanded graph searched with Dijkstra
# ------------------------------------------------------------------------------------------


def brute_force(
    trips: list[list[tuple[int, int, int]]],
    n_stops: int,
    access: list[dict[int, int]],
    egress: dict[int, int],
    walk: list[float],
    footpaths: dict[tuple[int, int], int],
    departures: list[int],
    min_transfer_s: int,
    max_travel_s: int,
) -> np.ndarray:
    """Trips as lists of (stop, arrival_s, departure_s). Nodes are events (stop, time)."""
    G = nx.DiGraph()
    board_times: dict[int, list[int]] = {s: [] for s in range(n_stops)}
    for trip in trips:
        for s, _, d in trip[:-1]:
            board_times[s].append(d)
    for s in board_times:
        times = sorted(set(board_times[s]))
        board_times[s] = times
        for a, b in itertools.pairwise(times):
            G.add_edge(("B", s, a), ("B", s, b), weight=b - a)  # wait at the stop

    def first_board(s: int, t: float) -> tuple[tuple, int] | None:
        later = [x for x in board_times[s] if x >= t]
        return (("B", s, later[0]), later[0]) if later else None

    for k, trip in enumerate(trips):
        for i in range(len(trip) - 1):
            s, _, d = trip[i]
            v, ta, _ = trip[i + 1]
            G.add_edge(("B", s, d), ("R", k, i), weight=0)  # board
            G.add_edge(("R", k, i), ("A", k, i + 1), weight=ta - d)  # ride
            if i + 1 < len(trip) - 1:
                G.add_edge(("A", k, i + 1), ("R", k, i + 1), weight=trip[i + 1][2] - ta)  # seated
            if v in egress:
                G.add_edge(("A", k, i + 1), "D", weight=egress[v])
            for w, f in [(v, 0)] + [(b, f) for (a, b), f in footpaths.items() if a == v and b != v]:
                nxt = first_board(w, ta + f + min_transfer_s)
                if nxt:
                    G.add_edge(("A", k, i + 1), nxt[0], weight=nxt[1] - ta)
    out = np.full((len(access), len(departures)), INF)
    for o, acc in enumerate(access):
        for j, t in enumerate(departures):
            H_ = G.copy()
            for s, a in acc.items():
                nxt = first_board(s, t + a)
                if nxt:
                    H_.add_edge("O", nxt[0], weight=nxt[1] - t)
            best = INF
            if "O" in H_ and "D" in H_:
                try:
                    best = nx.dijkstra_path_length(H_, "O", "D")
                except nx.NetworkXNoPath:
                    best = INF
            best = min(best, walk[o])
            out[o, j] = best if best <= max_travel_s else INF
    return out


@st.composite
def instances(draw: st.DrawFn) -> dict:
    n_stops = draw(st.integers(2, 5))
    trips = []
    for _ in range(draw(st.integers(1, 5))):
        n = draw(st.integers(2, 4))
        stops = [draw(st.integers(0, n_stops - 1))]
        for _ in range(n - 1):
            stops.append(draw(st.integers(0, n_stops - 1).filter(lambda s, p=stops[-1]: s != p)))
        t = draw(st.integers(0, 40)) * 30
        rows = []
        for i, s in enumerate(stops):
            if i:
                t += draw(st.integers(0, 10)) * 30  # ride (0 allowed)
            arr = t
            t += draw(st.sampled_from([0, 0, 30, 60]))  # dwell
            rows.append((s, arr, t))
        trips.append(rows)
    n_origins = draw(st.integers(1, 3))
    acc_val = st.integers(0, 20).map(lambda x: x * 30)
    access = [draw(st.dictionaries(st.integers(0, n_stops - 1), acc_val, min_size=1, max_size=3))
              for _ in range(n_origins)]
    egress = draw(st.dictionaries(st.integers(0, n_stops - 1), acc_val, min_size=1, max_size=3))
    pairs = st.tuples(st.integers(0, n_stops - 1), st.integers(0, n_stops - 1))
    footpaths = draw(st.dictionaries(pairs, st.integers(0, 10).map(lambda x: x * 30), max_size=4))
    walk = [draw(st.sampled_from([INF, INF, 600.0, 1800.0, 3000.0])) for _ in range(n_origins)]
    departures = sorted(draw(st.lists(st.integers(0, 50).map(lambda x: x * 30), min_size=1,
                                      max_size=4, unique=True)))
    mt = draw(st.sampled_from([0, 0, 1, 30, 60, 90]))  # 0 s: zero-length chains at one time
    max_travel = draw(st.sampled_from([3 * H, 40 * M]))
    return {"n_stops": n_stops, "trips": trips, "access": access, "egress": egress,
            "footpaths": footpaths, "walk": walk, "departures": departures,
            "min_transfer_s": mt, "max_travel_s": max_travel}


def feed_of(inst: dict) -> Feed:
    stops = [(f"S{i}", 55.0, 11.0 + 0.01 * i) for i in range(inst["n_stops"])]
    trips = [Trip(f"T{k}", [(f"S{s}", a, d) for s, a, d in rows])
             for k, rows in enumerate(inst["trips"])]
    return Feed(stops=stops, trips=trips)


def route_inst(tt: transit.Timetable, inst: dict) -> np.ndarray:
    return route(
        tt,
        access=[{f"S{s}": a for s, a in acc.items()} for acc in inst["access"]],
        egress={f"S{s}": e for s, e in inst["egress"].items()},
        departures=inst["departures"],
        walk=inst["walk"],
        footpaths={(f"S{a}", f"S{b}"): f for (a, b), f in inst["footpaths"].items()},
        min_transfer_s=inst["min_transfer_s"],
        max_travel_s=inst["max_travel_s"],
    )


def tt_of(inst: dict) -> transit.Timetable:
    with tempfile.TemporaryDirectory() as folder:
        return load(feed_of(inst), Path(folder))


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(instances())
def test_matches_time_expanded_brute_force(inst: dict) -> None:
    got = route_inst(tt_of(inst), inst)
    want = brute_force(
        inst["trips"], inst["n_stops"], inst["access"], inst["egress"], inst["walk"],
        inst["footpaths"], inst["departures"], inst["min_transfer_s"], inst["max_travel_s"],
    )
    np.testing.assert_array_equal(got, want)


@FAST
@given(instances())
def test_earliest_arrival_matches_profile(inst: dict) -> None:
    tt = tt_of(inst)
    got = route_inst(tt, inst)
    eg = np.full(tt.n_stops, INF)
    for s, e in inst["egress"].items():
        eg[s] = e
    fp = inst["footpaths"]
    fp_m = sp.csr_matrix((list(fp.values()), ([a for a, _ in fp], [b for _, b in fp])),
                         shape=(tt.n_stops, tt.n_stops))
    for o, acc in enumerate(inst["access"]):
        acc_v = np.full(tt.n_stops, INF)
        for s, a in acc.items():
            acc_v[s] = a
        for j, t in enumerate(inst["departures"]):
            arr = transit.earliest_arrival(tt, acc_v, eg, fp_m, t,
                                           min_transfer_s=inst["min_transfer_s"])
            want = min(arr - t, inst["walk"][o])
            assert got[o, j] == (want if want <= inst["max_travel_s"] else INF)


@FAST
@given(instances(), st.data())
def test_more_trips_or_footpaths_never_slower(inst: dict, data: st.DataObject) -> None:
    base = route_inst(tt_of(inst), inst)
    assert np.all(base >= 0)
    walk = np.asarray(inst["walk"])
    assert np.all(base <= np.where(walk <= inst["max_travel_s"], walk, INF)[:, None])
    more_trips = {**inst, "trips": [*inst["trips"], data.draw(instances())["trips"][0]]}
    more_trips["trips"] = [[(s % inst["n_stops"], a, d) for s, a, d in rows]
                           for rows in more_trips["trips"]]
    more_trips["trips"] = [rows for rows in more_trips["trips"]
                           if all(a[0] != b[0] for a, b in itertools.pairwise(rows))]
    assert np.all(route_inst(tt_of(more_trips), more_trips) <= base)
    pair = data.draw(st.tuples(st.integers(0, inst["n_stops"] - 1),
                               st.integers(0, inst["n_stops"] - 1)))
    more_fp = {**inst, "footpaths": {**inst["footpaths"],
                                     pair: min(inst["footpaths"].get(pair, math.inf), 45)}}
    assert np.all(route_inst(tt_of(more_fp), more_fp) <= base)


# ------------------------------------------------------------------------------------------
# The real Porto Alegre feed (times only at the first and last stop of each trip)
# ------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.shared_data
def test_porto_alegre_against_earliest_arrival(shared_data: Path) -> None:
    feed = gk.read_feed(shared_data / "fallback_porto_alegre" / "poa_eptc.zip", dist_units="km")
    tt = transit.build_timetable(feed, "2019-05-07")  # a Tuesday
    assert tt.n_connections > 100_000
    speed_mps = 4.5 / 3.6 / 1.3  # 4.5 km/h along streets 1.3 × longer than the straight line
    lat0 = np.nanmean(tt.stop_lat)
    xy = np.c_[np.radians(tt.stop_lon) * math.cos(math.radians(lat0)), np.radians(tt.stop_lat)]
    xy *= 6_371_000.0
    xy[~np.isfinite(xy)] = 1e12

    def walk_s(points: np.ndarray, radius_m: float) -> sp.csr_matrix:
        d = np.hypot(points[:, None, 0] - xy[None, :, 0], points[:, None, 1] - xy[None, :, 1])
        d = np.where(d <= radius_m, d, 0.0)
        m = sp.csr_matrix(d / speed_mps)
        m.data = np.ceil(m.data)
        return m

    busy = np.argsort(-transit.stop_departures(tt, 12 * H, 13 * H), kind="stable")
    rng = np.random.default_rng(7)
    origins_xy = xy[busy[[0, 40, 120, 300]]] + rng.uniform(-150, 150, (4, 2))
    dest_xy = xy[busy[600]] + 60.0
    access = walk_s(origins_xy, 700)
    eg_m = np.hypot(*(xy - dest_xy).T)
    egress = np.where(eg_m <= 700, np.ceil(eg_m / speed_mps), INF)
    direct = np.ceil(np.hypot(*(origins_xy - dest_xy).T) / speed_mps)
    fp_m = walk_s(xy, 300)
    fp_m.setdiag(0)
    fp_m.eliminate_zeros()
    departures = np.arange(12 * H, 12 * H + 31 * M, 10 * M)
    got = transit.door_to_door_times(tt, access, egress, direct, fp_m, departures)
    assert np.isfinite(got).mean() > 0.5
    assert np.all(got <= direct[:, None])
    for o in range(access.shape[0]):
        acc_v = np.full(tt.n_stops, INF)
        row = access.getrow(o)
        acc_v[row.indices] = row.data
        for j, t in enumerate(departures):
            arr = transit.earliest_arrival(tt, acc_v, egress, fp_m, int(t))
            want = min(arr - t, direct[o])
            assert got[o, j] == (want if want <= 3 * H else INF)
    # transit beats walking for at least one origin
    assert np.any(got < direct[:, None])


# ------------------------------------------------------------------------------------------
# The compiled scan gives the profiles of the pure-Python reference scan
# ------------------------------------------------------------------------------------------


def assert_same_profiles(tt: transit.Timetable, egress: np.ndarray, fp: sp.csr_matrix,
                         mt: int, lo: int, hi: int) -> int:
    ptr, dep, arr, n = transit._profile_scan(tt, egress, fp, mt, lo, hi)
    r_ptr, r_dep, r_arr = transit._profile_scan_reference(tt, egress, fp, mt, lo, hi)
    np.testing.assert_array_equal(ptr, r_ptr)
    np.testing.assert_array_equal(dep, r_dep)
    np.testing.assert_array_equal(arr, r_arr)  # bit for bit, not approximately
    assert n >= int(((tt.dep_s >= lo) & (tt.arr_s <= hi)).sum())  # repeats when mt == 0
    return len(r_dep)


@FAST
@given(instances())
def test_compiled_scan_equals_the_reference_scan(inst: dict) -> None:
    tt = tt_of(inst)
    eg = np.full(tt.n_stops, INF)
    for s, e in inst["egress"].items():
        eg[s] = e + 0.37  # walking seconds are not whole
    fp = inst["footpaths"]
    fp_m = sp.csr_matrix(([v + 0.5 for v in fp.values()], ([a for a, _ in fp],
                                                          [b for _, b in fp])),
                         shape=(tt.n_stops, tt.n_stops))
    assert_same_profiles(tt, eg, fp_m, inst["min_transfer_s"], 0, 10 * H)


def _real_feed_profiles(tt: transit.Timetable, lo: int, hi: int, n_dest: int) -> int:
    lat0 = np.nanmean(tt.stop_lat)
    xy = np.c_[np.radians(tt.stop_lon) * math.cos(math.radians(lat0)), np.radians(tt.stop_lat)]
    xy *= 6_371_000.0
    xy[~np.isfinite(xy)] = 1e12
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    fp_m = sp.csr_matrix(np.where(d <= 300, d / 1.1 + 1e-3, 0.0))
    busy = np.argsort(-transit.stop_departures(tt, lo, hi), kind="stable")
    entries = 0
    for k in range(n_dest):
        dest = xy[busy[k * 37 % len(busy)]] + 40.0
        eg_m = np.hypot(*(xy - dest).T)
        egress = np.where(eg_m <= 900, eg_m / 1.1, INF)
        for mt in (60, 0):
            entries += assert_same_profiles(tt, egress, fp_m, mt, lo, hi)
    return entries


def test_compiled_scan_equals_the_reference_on_the_demo_feed(demo_dir: Path) -> None:
    feed = gk.read_feed(demo_dir / "gtfs.zip", dist_units="km")
    from placement.accessibility import default_service_date

    tt = transit.build_timetable(feed, default_service_date(feed))
    assert tt.n_connections > 1000
    assert _real_feed_profiles(tt, 7 * H, 12 * H, 3) > 100


@pytest.mark.slow
@pytest.mark.shared_data
def test_compiled_scan_equals_the_reference_on_porto_alegre(shared_data: Path) -> None:
    feed = gk.read_feed(shared_data / "fallback_porto_alegre" / "poa_eptc.zip", dist_units="km")
    tt = transit.build_timetable(feed, "2019-05-07")
    assert _real_feed_profiles(tt, 12 * H, 15 * H, 2) > 10_000


def _slow_times(values: pd.Series) -> np.ndarray:
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    parts = text.str.split(":", expand=True)
    out = np.full(len(values), np.nan)
    if parts.shape[1] < 3:
        return out
    h, m, s = (pd.to_numeric(parts[k], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
               for k in range(3))
    return h * 3600 + m * 60 + s


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(
    st.from_regex(r"\A ?[0-9]{1,3}:[0-9]{2}:[0-9]{2} ?\Z"),
    st.text(alphabet="0123456789: ", max_size=10),
    st.just(""), st.none()), max_size=12))
def test_fast_time_parsing_equals_the_general_parser(texts: list) -> None:
    values = pd.Series(texts, dtype=object)
    np.testing.assert_array_equal(transit._parse_gtfs_time_s(values), _slow_times(values))


def _lookup_reference(access: sp.csr_matrix, deps: np.ndarray, lo_s: int, hi_s: int,
                      ptr: np.ndarray, pdep: np.ndarray, parr: np.ndarray) -> np.ndarray:
    """The former vectorised lookup: one searchsorted over all profile entries."""
    out = np.full((access.shape[0], deps.size), INF)
    width = hi_s - lo_s + 2
    keys = np.repeat(np.arange(len(ptr) - 1, dtype=np.int64), np.diff(ptr)) * width + (pdep - lo_s)
    n = len(keys)
    stops = access.indices.astype(np.int64)
    walk = np.ceil(access.data).astype(np.int64)
    ready = np.minimum(walk[:, None] + (deps - lo_s)[None, :], width - 1)
    pos = np.searchsorted(keys, stops[:, None] * width + ready, side="left")
    hit = (pos < n) & (pos < ptr[stops + 1][:, None])
    arrival = np.where(hit, parr[np.minimum(pos, n - 1)], INF)
    lengths = np.diff(access.indptr)
    nonempty = np.flatnonzero(lengths)
    out[nonempty] = np.minimum.reduceat(arrival, access.indptr[:-1][nonempty], axis=0) - deps
    return out


@pytest.mark.slow
@pytest.mark.shared_data
def test_compiled_lookup_equals_the_former_lookup_on_porto_alegre(shared_data: Path) -> None:
    from placement._kernels import profile_lookup

    feed = gk.read_feed(shared_data / "fallback_porto_alegre" / "poa_eptc.zip", dist_units="km")
    tt = transit.build_timetable(feed, "2019-05-07")
    lo, hi = 12 * H, 14 * H + 3 * H
    lat0 = np.nanmean(tt.stop_lat)
    xy = np.c_[np.radians(tt.stop_lon) * math.cos(math.radians(lat0)), np.radians(tt.stop_lat)]
    xy *= 6_371_000.0
    xy[~np.isfinite(xy)] = 1e12
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    fp = sp.csr_matrix(np.where(d <= 300, d / 1.1 + 1e-3, 0.0))
    busy = np.argsort(-transit.stop_departures(tt, lo, hi), kind="stable")
    eg_m = np.hypot(*(xy - xy[busy[5]] - 50.0).T)
    egress = np.where(eg_m <= 900, eg_m / 1.1, INF)
    ptr, pdep, parr, _ = transit._profile_scan(tt, egress, fp, 60, lo, hi)
    rng = np.random.default_rng(3)
    origins = xy[busy[rng.integers(0, 800, 300)]] + rng.uniform(-400, 400, (300, 2))
    od = np.hypot(origins[:, None, 0] - xy[None, :, 0], origins[:, None, 1] - xy[None, :, 1])
    access = sp.csr_matrix(np.where(od <= 900, od / 1.1 + 0.3, 0.0))
    access.data[::7] = 0.0  # explicit zeros: stops at the door
    access = sp.csr_matrix((access.data, access.indices, access.indptr), shape=access.shape)
    deps = np.arange(12 * H, 14 * H, 120, dtype=np.int64)
    want = _lookup_reference(access, deps, lo, hi, ptr, pdep, parr)
    got = np.full_like(want, INF)
    profile_lookup(access.indptr.astype(np.int64), access.indices.astype(np.int64),
                   np.ceil(access.data).astype(np.int64), deps, lo, hi - lo + 2, ptr, pdep,
                   parr, got)
    assert np.isfinite(want).mean() > 0.3
    np.testing.assert_array_equal(got, want)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-20, 20), max_size=40), st.integers(-22, 22), st.data())
def test_galloping_search_from_the_end_equals_bisect(values, x, data):
    """The scan's search from a profile's end finds the same entry as a binary search."""
    from placement._kernels import _bisect_right_from_end

    a = np.sort(np.asarray(values, dtype=np.float64))
    lo = data.draw(st.integers(0, len(a)))
    hi = data.draw(st.integers(lo, len(a)))
    expected = lo + int(np.searchsorted(a[lo:hi], x, side="right"))
    assert _bisect_right_from_end(a, lo, hi, float(x)) == expected


def test_threads_give_the_same_door_to_door_times(demo_dir: Path, monkeypatch) -> None:
    """Origins split over threads (rows of the lookup): the same times as in one thread."""
    from placement.accessibility import default_service_date

    feed = gk.read_feed(demo_dir / "gtfs.zip", dist_units="km")
    tt = transit.build_timetable(feed, default_service_date(feed))
    lat0 = np.nanmean(tt.stop_lat)
    xy = np.c_[np.radians(tt.stop_lon) * math.cos(math.radians(lat0)), np.radians(tt.stop_lat)]
    xy *= 6_371_000.0
    rng = np.random.default_rng(5)
    origins = xy[rng.integers(0, len(xy), 7_000)] + rng.uniform(-500, 500, (7_000, 2))
    od = np.hypot(origins[:, None, 0] - xy[None, :, 0], origins[:, None, 1] - xy[None, :, 1])
    access = sp.csr_matrix(np.where(od <= 900, od / 1.1 + 0.3, 0.0))
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    fp = sp.csr_matrix(np.where(d <= 300, d / 1.1 + 1e-3, 0.0))
    eg_m = np.hypot(*(xy - xy[0] - 40.0).T)
    egress = np.where(eg_m <= 900, eg_m / 1.1, INF)
    direct = np.hypot(*(origins - xy[0] - 40.0).T) / 1.1
    deps = np.arange(7 * H, 9 * H, 120, dtype=np.int64)
    got = {}
    for threads in ("1", "3"):
        monkeypatch.setenv("PLACEMENT_THREADS", threads)
        got[threads] = transit.door_to_door_times(tt, access, egress, direct, fp, deps)
    assert np.isfinite(got["1"]).mean() > 0.05
    np.testing.assert_array_equal(got["1"], got["3"])


@settings(deadline=None, max_examples=120)
@given(rows=st.lists(st.tuples(st.sampled_from(["a", "B", "a1", "10", "9", "ä", "a@-1d"]),
                               st.integers(0, 4), st.one_of(st.none(), st.integers(0, 7200)),
                               st.booleans()),
                     min_size=1, max_size=40))
def test_interpolated_rows_keep_the_order_of_a_stable_sort_by_trip_and_sequence(rows):
    # The rows come out sorted by trip id (as strings) and stop sequence, ties in the order
    # given, as a stable sort of the table would put them; every timed row is kept. The row's
    # position is passed as its stop index to follow it through.
    frame = pd.DataFrame({
        "trip_id": [r[0] for r in rows],
        "stop_sequence": [r[1] for r in rows],
        "arrival_time": ["" if r[2] is None else f"{r[2] // 3600}:{r[2] // 60 % 60:02d}:"
                         f"{r[2] % 60:02d}" for r in rows],
    })
    frame["departure_time"] = frame["arrival_time"]
    n = len(frame)
    lat = np.where([r[3] for r in rows], 55.0 + np.arange(n) * 1e-3, np.nan)
    lon = np.full(n, 11.0)
    out = transit.interpolate_trip_times(frame, lat, lon, np.arange(n))
    ref = frame.sort_values(["trip_id", "stop_sequence"], kind="stable").index.to_numpy()
    pos = {row: k for k, row in enumerate(ref)}
    got = out["stop"].to_numpy()
    assert all(pos[a] < pos[b] for a, b in itertools.pairwise(got))
    assert list(out["trip_id"]) == list(frame["trip_id"].to_numpy()[got])
    timed = {k for k, r in enumerate(rows) if r[2] is not None}
    assert timed <= set(got)


def test_timetable_numbers_trips_by_their_sorted_keys_and_orders_connections(tmp_path: Path):
    # Trips of today and the parts after midnight of yesterday's ("@-1d"), plus runs expanded
    # from frequencies.txt ("#start"): trip_ids are the distinct keys in sorted order, each
    # connection points at its own key, and connections come by departure, arrival, trip and
    # order along the trip.
    feed = Feed(
        stops=STOPS,
        trips=[
            Trip("b", [("S0", 23 * H + 50 * M, None), ("S1", 24 * H + 10 * M, None),
                       ("S2", 24 * H + 30 * M, None)]),
            Trip("A", [("S3", 8 * H, None), ("S4", 8 * H + 5 * M, None)]),
            Trip("f", [("S5", 9 * H, None), ("S6", 9 * H + 4 * M, None)]),
            Trip("a", [("S3", 8 * H, None), ("S4", 8 * H + 5 * M, None)]),  # ties with "A"
        ],
        frequencies=[("f", 9 * H, 10 * H, 30 * M)],
    )
    tt = load(feed, tmp_path, "2024-01-09")
    assert list(tt.trip_ids) == sorted(tt.trip_ids) == sorted(
        {"A", "a", "b", "b@-1d", f"f#{9 * H}", f"f#{9 * H + 30 * M}"})
    got = sorted(zip(tt.trip_ids[tt.trip], tt.dep_s.tolist(), tt.arr_s.tolist(),
                     strict=True))
    assert got == sorted([
        ("A", 8 * H, 8 * H + 5 * M), ("a", 8 * H, 8 * H + 5 * M),
        ("b", 23 * H + 50 * M, 24 * H + 10 * M), ("b", 24 * H + 10 * M, 24 * H + 30 * M),
        ("b@-1d", 10 * M, 30 * M),  # yesterday's run, after midnight
        (f"f#{9 * H}", 9 * H, 9 * H + 4 * M),
        (f"f#{9 * H + 30 * M}", 9 * H + 30 * M, 9 * H + 34 * M)])
    keys = list(zip(tt.dep_s.tolist(), tt.arr_s.tolist(), tt.trip.tolist(), strict=True))
    assert keys == sorted(keys)
    assert list(tt.route_ids) == ["R1"] * len(tt.trip_ids)


@pytest.mark.parametrize("trips", [
    [[(1, 0, 0), (0, 0, 0), (2, 0, 0)]],  # S1 → S0 → S2 in one second
    [[(2, 0, 0), (0, 0, 0), (1, 0, 0), (3, 0, 0)], [(0, 0, 0), (1, 0, 0)]],
    [[(1, 60, 60), (2, 60, 60), (0, 60, 60), (3, 60, 60)]],
])
def test_a_chain_of_zero_length_rides_is_not_ridden_backwards(trips):
    # With 0 s to change, the zero-length rides of one departure second are scanned several
    # times; a trip must still only take a traveller onwards. From S0 (origin and destination
    # at that stop) no vehicle leads back to S0: no journey, by the profile scan, the forward
    # scan and the reference scan alike; and a stop later on the chain is reached.
    inst = {"n_stops": 4, "trips": trips, "access": [{0: 0}], "egress": {0: 0},
            "footpaths": {}, "walk": [INF], "departures": [0], "min_transfer_s": 0,
            "max_travel_s": 3 * H}
    tt = tt_of(inst)
    assert route_inst(tt, inst)[0, 0] == INF
    access = np.full(tt.n_stops, INF)
    access[tt.stop_index("S0")[0]] = 0
    egress = np.full(tt.n_stops, INF)
    egress[tt.stop_index("S0")[0]] = 0
    fp = sp.csr_matrix((tt.n_stops, tt.n_stops))
    assert transit.earliest_arrival(tt, access, egress, fp, 0, min_transfer_s=0) == INF
    last = trips[0][-1][0]  # the end of the first trip, after S0 on it
    egress = np.full(tt.n_stops, INF)
    egress[tt.stop_index(f"S{last}")[0]] = 0
    assert transit.earliest_arrival(tt, access, egress, fp, 0, min_transfer_s=0) == \
        trips[0][-1][1]
    ref = transit._profile_scan_reference(tt, egress, fp, 0, 0, 3 * H)
    got = transit._profile_scan(tt, egress, fp, 0, 0, 3 * H)
    for a, b in zip(ref, got[:3], strict=True):
        assert np.array_equal(a, b)
