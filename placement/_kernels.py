"""Compiled inner loops (numba) of the walk searches and the public-transport scan.

Imported lazily by :mod:`placement.network` and :mod:`placement.transit`, so that reading a
cached accessibility table never loads numba. Every function is compiled once per machine and
cached on disk (``cache=True``).

* :func:`ball_pairs` / :func:`ball_counts`: one *bounded* search per source that visits only
  the nodes within the limit (work and memory proportional to the size of the ball, not to the
  whole graph), reusing one distance array for all sources. Distances are the same float
  sums as ``scipy.sparse.csgraph.dijkstra`` computes (``dist[u] + w`` along the shortest path;
  a node at exactly the limit is inside, as in scipy).

  The bounded searches keep their open nodes in a *bucket queue* (Dial's algorithm with
  buckets of :data:`BUCKET_S` seconds, first in first out within a bucket) instead of a binary
  heap: a node is taken from the lowest non-empty bucket, so it may be expanded before a
  slightly shorter path to it is found and is then expanded again. This is a label-correcting
  search: it stops when no distance can be improved, which is the same fixed point
  (``dist[v] = min over u of dist[u] + w(u, v)``, float sums included) that Dijkstra reaches, so
  the distances are identical; it only changes the order in which nodes are first reached. On
  walk networks re-expansions are rare (below 0.5 %) and skipping the heap's logarithmic
  sift saves about a quarter of the time. A search falls back to the heap when its limit needs
  more than :data:`MAX_BUCKETS` buckets or its entries outgrow their arrays.
* :func:`profile_scan`: the backward profile Connection Scan of
  :func:`placement.transit._profile_scan_reference`, step for step.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Width in seconds of a bucket of the bounded searches' bucket queue.
BUCKET_S = 16.0
#: Limits that need more buckets than this (or an infinite limit) use the binary heap.
MAX_BUCKETS = 1 << 16


@njit(cache=True, nogil=True)
def _heap_push(hd: np.ndarray, hn: np.ndarray, size: int, d: float, n: int) -> int:
    """Push ``(d, n)`` on the binary min-heap ``hd``/``hn`` of ``size``; return the new size."""
    i = size
    while i > 0:  # move parents down into the hole until (d, n) fits
        p = (i - 1) >> 1
        if hd[p] <= d:
            break
        hd[i] = hd[p]
        hn[i] = hn[p]
        i = p
    hd[i] = d
    hn[i] = n
    return size + 1


@njit(cache=True, nogil=True)
def _heap_pop(hd: np.ndarray, hn: np.ndarray, size: int) -> int:
    """Remove the smallest entry (read it from ``hd[0]``/``hn[0]`` first); return the size."""
    size -= 1
    d = hd[size]
    n = hn[size]
    i = 0
    while True:  # move the smaller child up into the hole until the last entry fits
        m = 2 * i + 1
        if m >= size:
            break
        if m + 1 < size:
            m += hd[m + 1] < hd[m]  # without a branch: which child is smaller is a coin toss
        if d <= hd[m]:
            break
        hd[i] = hd[m]
        hn[i] = hn[m]
        i = m
    hd[i] = d
    hn[i] = n
    return size



@njit(cache=True, nogil=True)
def _queue(limit, n_indices):
    """Allocate the arrays of a bounded search up to ``limit`` on ``n_indices`` arcs.

    Returns ``(hd, hn, head, tail, nxt, ent, ent_d)``: the binary heap (always, as the
    fallback) and the bucket queue (empty when ``limit`` needs more than :data:`MAX_BUCKETS`
    buckets, is negative or NaN, or the entries would overflow ``int32``): first and last
    entry of each bucket, the next entry of an entry, its node and the distance it was
    queued at.
    """
    hd = np.empty(n_indices + 4)
    hn = np.empty(n_indices + 4, np.int64)
    nb = 0
    cap = n_indices + n_indices // 4 + 4
    # a negative or NaN limit, or more entries than int32 holds: the heap alone
    if 0.0 <= limit < BUCKET_S * MAX_BUCKETS and cap < np.iinfo(np.int32).max:
        nb = int(limit * (1.0 / BUCKET_S)) + 1
    if nb == 0:
        cap = 0
    head = np.full(nb, -1, np.int64)
    tail = np.full(nb, -1, np.int64)
    nxt = np.empty(cap, np.int32)
    ent = np.empty(cap, np.int32)
    ent_d = np.empty(cap)
    return hd, hn, head, tail, nxt, ent, ent_d


@njit(cache=True, nogil=True)
def _bucket_ball(indptr, indices, data, a, da, b, db, limit, dist, visited, head, tail, nxt,
                 ent, ent_d):
    """:func:`_heap_ball` with a bucket queue; returns ``-(n_vis + 1)`` if entries run out.

    Buckets are taken in ascending order, the entries of a bucket in the order queued. An
    entry whose node has since been queued at a shorter distance is skipped (every queueing
    is a strict improvement, so exactly one entry per node and distance is expanded). A node
    reached from bucket ``k`` lands in bucket ``k`` or later (``d + w >= d``), so no bucket is
    revisited. On overflow ``dist``/``visited`` hold the partial search and every bucket is
    emptied again.
    """
    inv_w = 1.0 / BUCKET_S
    n_vis = 0
    n_ent = 0
    cap = len(ent)
    lo = len(head)
    for side in range(2):
        x = a if side == 0 else b
        dx = da if side == 0 else db
        if dx <= limit and dx < dist[x]:
            if dist[x] == np.inf:
                visited[n_vis] = x
                n_vis += 1
            dist[x] = dx
            k = int(dx * inv_w)
            ent[n_ent] = x
            ent_d[n_ent] = dx
            nxt[n_ent] = -1
            if head[k] < 0:
                head[k] = n_ent
            else:
                nxt[tail[k]] = n_ent
            tail[k] = n_ent
            n_ent += 1
            lo = min(lo, k)
    for bk in range(lo, len(head)):
        e = head[bk]
        while e >= 0:
            u = ent[e]
            d = ent_d[e]
            e = nxt[e]
            if d > dist[u]:  # queued again since, at a shorter distance
                continue
            for j in range(indptr[u], indptr[u + 1]):
                v = indices[j]
                nd = d + data[j]
                if nd <= limit and nd < dist[v]:
                    if dist[v] == np.inf:
                        visited[n_vis] = v
                        n_vis += 1
                    dist[v] = nd
                    k = indptr[v]
                    if indptr[v + 1] - k == 1 and indices[k] == u:
                        continue  # a dead end: its one way leads back to u
                    if n_ent == cap:
                        head[bk:] = -1
                        return -(n_vis + 1)
                    kb = int(nd * inv_w)
                    ent[n_ent] = v
                    ent_d[n_ent] = nd
                    nxt[n_ent] = -1
                    if head[kb] < 0:
                        head[kb] = n_ent
                    else:
                        nxt[tail[kb]] = n_ent
                    tail[kb] = n_ent
                    if kb == bk and e < 0:  # appended to the bucket being emptied
                        e = n_ent
                    n_ent += 1
        head[bk] = -1
    return n_vis


@njit(cache=True, nogil=True)
def _ball_from_edge(indptr, indices, data, a, da, b, db, limit, dist, visited, q):
    """Settle every node within ``limit`` of a point on the edge ``a-b`` (times ``da``/``db``).

    Returns how many nodes were reached (listed in ``visited``). ``q`` is :func:`_queue`'s
    tuple; the bucket queue is used when it has buckets, the heap otherwise or when the
    bucket entries run out. ``dist`` must be +inf everywhere on entry; the caller resets the
    visited entries afterwards.
    """
    hd, hn, head, tail, nxt, ent, ent_d = q
    if len(head) > 0:
        got = _bucket_ball(indptr, indices, data, a, da, b, db, limit, dist, visited, head,
                           tail, nxt, ent, ent_d)
        if got >= 0:
            return got
        for i in range(-got - 1):  # start again with the heap
            dist[visited[i]] = np.inf
    return _heap_ball(indptr, indices, data, a, da, b, db, limit, dist, visited, hd, hn)


@njit(cache=True, nogil=True)
def _ball(indptr, indices, data, src, limit, dist, visited, q):
    """Settle every node within ``limit`` of ``src``; return how many (listed in ``visited``).

    ``dist`` must be +inf everywhere on entry; the caller resets the visited entries
    afterwards.
    """
    return _ball_from_edge(indptr, indices, data, src, 0.0, src, np.inf, limit, dist, visited,
                           q)


@njit(cache=True, nogil=True)
def ball_pairs(indptr, indices, data, sources, limit, is_target):
    """Return ``(pairs per source, node, seconds)`` of every target node within ``limit``.

    Parameters are the CSR arrays of the (symmetric) travel-time matrix, the source nodes,
    the limit in seconds and a boolean mask of the nodes wanted in the output. The pairs are
    grouped by source (in ``sources`` order; the first array says how many each source has),
    the nodes of a source in the order they are first reached (not sorted).
    """
    n = len(indptr) - 1
    dist = np.full(n, np.inf)
    visited = np.empty(n, np.int64)
    wq = _queue(limit, len(indices))
    cap = max(16, 4 * len(sources))
    per_src = np.zeros(len(sources), np.int64)
    o_node = np.empty(cap, np.int64)
    o_d = np.empty(cap)
    m = 0
    for s in range(len(sources)):
        n_vis = _ball(indptr, indices, data, sources[s], limit, dist, visited, wq)
        m0 = m
        for q in range(n_vis):
            v = visited[q]
            if is_target[v] and dist[v] <= limit:
                if m == cap:
                    cap *= 2
                    b = np.empty(cap, np.int64)
                    b[:m] = o_node[:m]
                    o_node = b
                    c = np.empty(cap)
                    c[:m] = o_d[:m]
                    o_d = c
                o_node[m] = v
                o_d[m] = dist[v]
                m += 1
            dist[v] = np.inf
        per_src[s] = m - m0
    return per_src, o_node[:m], o_d[:m]


@njit(cache=True, nogil=True)
def _counts_part(indptr, indices, data, sources, weights, limits, top, counts):
    n = len(indptr) - 1
    dist = np.full(n, np.inf)
    visited = np.empty(n, np.int64)
    wq = _queue(top, len(indices))
    for s in range(len(sources)):
        n_vis = _ball(indptr, indices, data, sources[s], top, dist, visited, wq)
        w = weights[s]
        for q in range(n_vis):
            v = visited[q]
            d = dist[v]
            for k in range(len(limits)):
                if d <= limits[k]:
                    counts[k, v] += w
            dist[v] = np.inf


@njit(cache=True, nogil=True)
def ball_counts(indptr, indices, data, sources, weights, limits):
    """Return ``counts[k, node]``: the summed weights of sources within ``limits[k]`` of node."""
    n = len(indptr) - 1
    counts = np.zeros((len(limits), n), np.int64)
    if len(limits) and len(sources):
        _counts_part(indptr, indices, data, sources, weights, limits, limits.max(), counts)
    return counts


@njit(cache=True, nogil=True)
def _bisect_right(a, lo, hi, x):
    while lo < hi:
        mid = (lo + hi) >> 1
        if x < a[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True, nogil=True)
def _bisect_right_from_end(a, lo, hi, x):
    """``_bisect_right(a, lo, hi, x)``, galloping from the end (where a backward scan looks)."""
    if hi == lo or a[hi - 1] <= x:
        return hi
    top = hi - 1  # a[top] > x: the answer is at most top
    step = 1
    while True:
        cand = top - step
        if cand < lo:
            return _bisect_right(a, lo, top, x)
        if a[cand] <= x:
            return _bisect_right(a, cand + 1, top, x)
        top = cand
        step *= 2


@njit(cache=True, nogil=True)
def profile_scan(order, restart, dep_stop, arr_stop, dep_s, arr_s, trip, n_trips, egress,
                 fp_ptr, fp_idx, fp_s, mt, base):
    """Backward profile connection scan over the connections ``order`` (window positions).

    ``restart`` marks the passes over a block of zero-length connections (see
    ``transit._scan_order_array``): each pass starts from the block's trips as they were
    before the block. ``base[s]:base[s+1]`` is the room for the profile of stop ``s`` (one
    entry per connection departing there is enough). Returns ``(neg_dep, arr, length)``: per
    stop, its profile as ``-departure`` ascending and the arrival at the destination
    descending, as the reference builds them.
    """
    n_stops = len(base) - 1
    nd = np.empty(base[n_stops])
    aa = np.empty(base[n_stops])
    ln = np.zeros(n_stops, np.int64)
    # the last (smallest) arrival of each stop's profile, inf while it is empty
    last = np.full(n_stops, np.inf)
    trip_best = np.full(n_trips, np.inf)
    saved = np.full(n_trips, np.inf)
    for pos in range(len(order)):
        r = restart[pos]
        if r != 0:  # a block's passes start from the trips' state before it
            for j in range(pos, pos + abs(r)):
                k = trip[order[j]]
                if r < 0:
                    saved[k] = trip_best[k]
                else:
                    trip_best[k] = saved[k]
        c = order[pos]
        v = arr_stop[c]
        ta = arr_s[c]
        k = trip[c]
        best = trip_best[k]  # staying seated
        reach = ta + egress[v]  # alight and walk to the destination
        if reach < best:
            best = reach
        # a stop's arrivals decrease along its profile: when even its last (smallest) one is
        # no better than ``best``, no lookup there can improve it (skipped, same result)
        if last[v] < best:  # change vehicle at the same stop
            b = base[v]
            i = _bisect_right_from_end(nd, b, b + ln[v], -(ta + mt)) - 1
            if i >= b and aa[i] < best:
                best = aa[i]
        for j in range(fp_ptr[v], fp_ptr[v + 1]):  # change vehicle via a footpath
            w = fp_idx[j]
            if last[w] >= best or w == v:
                continue
            b = base[w]
            i = _bisect_right_from_end(nd, b, b + ln[w], -(ta + fp_s[j] + mt)) - 1
            if i >= b and aa[i] < best:
                best = aa[i]
        if best == np.inf:
            continue
        trip_best[k] = best
        u = dep_stop[c]
        nu = ln[u]
        b = base[u]
        if nu == 0 or best < aa[b + nu - 1]:
            td = -dep_s[c]
            if nu > 0 and nd[b + nu - 1] == td:
                aa[b + nu - 1] = best
            else:
                nd[b + nu] = td
                aa[b + nu] = best
                ln[u] = nu + 1
            last[u] = best
    return nd, aa, ln


@njit(cache=True, nogil=True)
def profile_lookup(indptr, stops, walk, deps, lo_s, width, ptr, pdep, parr, out):
    """Earliest arrival per origin and departure time from the stops' profiles.

    For origin ``o`` (access entries ``indptr[o]:indptr[o+1]`` of ``stops``/``walk``, whole
    seconds) and departure ``deps[j]``: the smallest ``parr`` over its access stops of the
    first profile entry departing at or after ``deps[j] + walk`` (ready times past
    ``lo_s + width - 1`` find none), minus ``deps[j]``, written to ``out[o, j]``; rows without
    an access entry are left as they are. The same arithmetic as the vectorised
    ``searchsorted`` lookup it replaced: per access entry, each profile entry is the answer
    for the run of consecutive departures (in ascending order) that are ready by its
    departure, one merge pass over both.
    """
    n_dep = len(deps)
    order = np.argsort(deps, kind="mergesort")
    ds = deps[order]  # departures ascending
    best = np.empty(n_dep)
    cap = width - 1  # ready times (from lo_s) are clamped here
    for o in range(len(indptr) - 1):
        a, b = indptr[o], indptr[o + 1]
        if b == a:
            continue
        best[:] = np.inf
        for e in range(a, b):
            s = stops[e]
            w = walk[e]
            q = 0
            for i in range(ptr[s], ptr[s + 1]):
                # the departures q.. ready by this entry: min(w + ds[q] - lo_s, cap) <= p
                p = pdep[i] - lo_s
                last = ds[n_dep - 1] if p >= cap else pdep[i] - w
                arr = parr[i]
                while q < n_dep and ds[q] <= last:
                    if arr < best[q]:
                        best[q] = arr
                    q += 1
                if q == n_dep:
                    break
        for t in range(n_dep):
            out[o, order[t]] = best[t] - ds[t]


# --- nearest edge of many points (a uniform grid of segments) ---------------------------------


@njit(cache=True, nogil=True)
def _cell_span(a0, a1, origin, cell, n):
    """First and last cell index (clamped to ``0..n-1``) of the interval ``[a0, a1]``."""
    lo = int(np.floor((min(a0, a1) - origin) / cell - 1e-9))
    hi = int(np.floor((max(a0, a1) - origin) / cell + 1e-9))
    return max(lo, 0), min(hi, n - 1)


@njit(cache=True, nogil=True)
def _segment_cells(x0, y0, x1, y1, gx, gy, cell, nx, ny, out, k, count_only):
    """Visit every cell a segment passes through (column by column, with a 1e-9 cell margin)."""
    ilo, ihi = _cell_span(x0, x1, gx, cell, nx)
    n = 0
    for i in range(ilo, ihi + 1):
        if x1 != x0:  # the segment's y range within this column
            xa = max(min(x0, x1), gx + i * cell)
            xb = min(max(x0, x1), gx + (i + 1) * cell)
            ya = y0 + (xa - x0) * (y1 - y0) / (x1 - x0)
            yb = y0 + (xb - x0) * (y1 - y0) / (x1 - x0)
        else:
            ya, yb = y0, y1
        jlo, jhi = _cell_span(ya, yb, gy, cell, ny)
        for j in range(jlo, jhi + 1):
            if not count_only:
                out[k + n] = i * ny + j
            n += 1
    return n


@njit(cache=True, nogil=True)
def grid_build(sx0, sy0, sx1, sy1, gx, gy, cell, nx, ny):
    """Index segments by the grid cells they pass through.

    Returns ``(ptr, seg)``: the segments of cell ``c = i * ny + j`` are
    ``seg[ptr[c]:ptr[c + 1]]``, in increasing order.
    """
    m = len(sx0)
    per = np.empty(m, np.int64)
    dummy = np.empty(0, np.int64)
    total = 0
    for s in range(m):
        per[s] = _segment_cells(sx0[s], sy0[s], sx1[s], sy1[s], gx, gy, cell, nx, ny, dummy, 0,
                                True)
        total += per[s]
    cells = np.empty(total, np.int64)
    segs = np.empty(total, np.int64)
    k = 0
    for s in range(m):
        _segment_cells(sx0[s], sy0[s], sx1[s], sy1[s], gx, gy, cell, nx, ny, cells, k, False)
        segs[k:k + per[s]] = s
        k += per[s]
    ptr = np.zeros(nx * ny + 1, np.int64)
    for c in cells:
        ptr[c + 1] += 1
    for c in range(nx * ny):
        ptr[c + 1] += ptr[c]
    # a counting sort by cell, stable: the segments stay in increasing order within a cell
    out = np.empty(total, np.int64)
    fill = ptr[:-1].copy()
    for k in range(total):
        c = cells[k]
        out[fill[c]] = segs[k]
        fill[c] += 1
    return ptr, out


@njit(cache=True, nogil=True)
def _point_segment(px, py, ax, ay, bx, by):
    """Distance from a point to a segment, computed as GEOS does (``Distance::pointToSegment``)."""
    if ax == bx and ay == by:
        return np.sqrt((px - ax) * (px - ax) + (py - ay) * (py - ay))
    len2 = (bx - ax) * (bx - ax) + (by - ay) * (by - ay)
    r = ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / len2
    if r <= 0.0:
        return np.sqrt((px - ax) * (px - ax) + (py - ay) * (py - ay))
    if r >= 1.0:
        return np.sqrt((px - bx) * (px - bx) + (py - by) * (py - by))
    s = ((ay - py) * (bx - ax) - (ax - px) * (by - ay)) / len2
    return abs(s) * np.sqrt(len2)


@njit(cache=True, nogil=True)
def segment_starts(sx0, sy0, sx1, sy1, seg_edge):
    """Length along its edge's geometry to the start of each segment, summed as GEOS does.

    The segments of an edge are consecutive and in order (``shapely.get_coordinates``).
    """
    out = np.empty(len(sx0))
    acc = 0.0
    for s in range(len(sx0)):
        if s == 0 or seg_edge[s] != seg_edge[s - 1]:
            acc = 0.0
        out[s] = acc
        dx = sx1[s] - sx0[s]
        dy = sy1[s] - sy0[s]
        acc += np.sqrt(dx * dx + dy * dy)
    return out


@njit(cache=True, nogil=True)
def _measure_on_segment(px, py, ax, ay, bx, by, start):
    """Length along the line to the point's projection on one segment (GEOS's arithmetic)."""
    if px == ax and py == ay:
        return start
    dx = bx - ax
    dy = by - ay
    seg_len = np.sqrt(dx * dx + dy * dy)
    if px == bx and py == by:
        return start + seg_len
    len2 = dx * dx + dy * dy
    if len2 == 0.0:
        return start
    r = ((px - ax) * dx + (py - ay) * dy) / len2
    if r <= 0.0:
        return start
    if r <= 1.0:
        return start + r * seg_len
    return start + seg_len


@njit(cache=True, nogil=True)
def grid_nearest(px, py, sx0, sy0, sx1, sy1, seg_edge, seg_start, ptr, seg, gx, gy, cell, nx,
                 ny, r_cap):
    """Nearest edge of each point: rings of grid cells around it until none can be nearer.

    After the rings up to ``r - 1`` around the point's cell, every segment not yet seen is at
    least ``(r - 1) * cell`` plus the point's distance to the sides of its own cell away; the
    search stops once the best distance is below that (strictly, so that an equally near edge
    with a lower index is still found). Ties go to the lowest
    edge index, and within an edge to its first segment, so the offset along the edge is the
    one ``shapely.line_locate_point`` gives (GEOS takes the first nearest segment).
    Returns ``(edge, dist, offset)``; ``-1, inf, nan`` for a point with no finite coordinate,
    ``-2`` for a point the first ``r_cap`` rings could not settle (to be searched otherwise).
    """
    n = len(px)
    best_edge = np.full(n, -1, np.int64)
    best_dist = np.full(n, np.inf)
    best_off = np.full(n, np.nan)
    for p in range(n):
        x, y = px[p], py[p]
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        ci = int(np.floor((x - gx) / cell))
        cj = int(np.floor((y - gy) / cell))
        # the ring after which every cell of the grid has been visited
        r_max = max(abs(ci), abs(ci - (nx - 1)), abs(cj), abs(cj - (ny - 1)))
        bd = np.inf
        be = -1
        bs = -1
        proven = False
        # the point's distance to the sides of its own cell
        fx = x - (gx + ci * cell)
        fy = y - (gy + cj * cell)
        inner = min(fx, cell - fx, fy, cell - fy)
        for r in range(min(r_max, r_cap) + 1):
            # every cell not yet seen lies outside the block of rings 0..r-1, at least this far
            if r > 0 and bd < (r - 1) * cell + inner - 1e-6:
                proven = True
                break
            for i in range(max(ci - r, 0), min(ci + r, nx - 1) + 1):
                edge_row = i == ci - r or i == ci + r
                step = 1 if edge_row else 2 * r
                j = cj - r
                while j <= cj + r:
                    if 0 <= j < ny:
                        c = i * ny + j
                        for k in range(ptr[c], ptr[c + 1]):
                            s = seg[k]
                            d = _point_segment(x, y, sx0[s], sy0[s], sx1[s], sy1[s])
                            e = seg_edge[s]
                            if d < bd or (d == bd and (e < be or (e == be and s < bs))):
                                bd = d
                                be = e
                                bs = s
                    j += step
        if not proven and r_max > r_cap and not bd < r_cap * cell - 1e-6:
            be = -2
        best_edge[p] = be
        best_dist[p] = bd
        if be >= 0:
            best_off[p] = _measure_on_segment(x, y, sx0[bs], sy0[bs], sx1[bs], sy1[bs],
                                              seg_start[bs])
    return best_edge, best_dist, best_off


# --- walks between points on edges (no node per point) ----------------------------------------


@njit(cache=True, nogil=True)
def _heap_ball(indptr, indices, data, a, da, b, db, limit, dist, visited, hd, hn):
    """:func:`_ball_from_edge` with a binary heap (a bounded Dijkstra)."""
    n_vis = 0
    size = 0
    if da <= limit:
        size = _heap_push(hd, hn, size, da, a)
        dist[a] = da
        visited[n_vis] = a
        n_vis += 1
    if db <= limit and db < dist[b]:
        size = _heap_push(hd, hn, size, db, b)
        if dist[b] == np.inf:
            visited[n_vis] = b
            n_vis += 1
        dist[b] = db
    while size > 0:
        d = hd[0]
        u = hn[0]
        size = _heap_pop(hd, hn, size)
        if d > dist[u]:  # a stale entry (pushes only improve, so no node is settled twice)
            continue
        for j in range(indptr[u], indptr[u + 1]):
            v = indices[j]
            nd = d + data[j]  # a settled v has dist[v] <= d <= nd: never updated again
            if nd <= limit and nd < dist[v]:
                if dist[v] == np.inf:
                    visited[n_vis] = v
                    n_vis += 1
                dist[v] = nd
                k = indptr[v]
                if indptr[v + 1] - k == 1 and indices[k] == u:
                    continue  # a dead end: its one way leads back to u, so nothing to expand
                size = _heap_push(hd, hn, size, nd, v)
    return n_vis


@njit(cache=True, nogil=True)
def _on_edge(du, dv, length, pos, door):
    """Time to a point ``pos`` along an edge of ``length`` with a door path, from its ends."""
    return door + min(du + pos, dv + (length - pos))


@njit(cache=True, nogil=True)
def edge_nearest(indptr, indices, data, eu, ev, elen, s_edge, s_pos, s_door, t_edge, t_pos,
                 t_door, t_ptr):
    """Time from every target point to the nearest source point, all points on edges.

    A point is an edge, a position along it and a door path, all in seconds. One Dijkstra
    from all sources at once over the street nodes; a target's time is the faster of its
    edge's two ends plus the walk along the edge and its door path, or the walk along the
    edge from a source on the same edge. The targets are sorted by edge: those of edge ``e``
    are ``t_ptr[e]:t_ptr[e + 1]``. Returns seconds (inf: no source reachable).
    """
    n = len(indptr) - 1
    dist = np.full(n, np.inf)
    hd = np.empty(len(indices) + 2 * len(s_edge) + 2)
    hn = np.empty(len(indices) + 2 * len(s_edge) + 2, np.int64)
    size = 0
    for s in range(len(s_edge)):
        e = s_edge[s]
        a = s_door[s] + s_pos[s]
        b = s_door[s] + (elen[e] - s_pos[s])
        if a < dist[eu[e]]:
            dist[eu[e]] = a
            size = _heap_push(hd, hn, size, a, eu[e])
        if b < dist[ev[e]]:
            dist[ev[e]] = b
            size = _heap_push(hd, hn, size, b, ev[e])
    while size > 0:
        d = hd[0]
        u = hn[0]
        size = _heap_pop(hd, hn, size)
        if d > dist[u]:  # a stale entry (pushes only improve, so no node is settled twice)
            continue
        for j in range(indptr[u], indptr[u + 1]):
            v = indices[j]
            nd = d + data[j]
            if nd < dist[v]:
                dist[v] = nd
                size = _heap_push(hd, hn, size, nd, v)
    out = np.empty(len(t_edge))
    for t in range(len(t_edge)):
        e = t_edge[t]
        out[t] = _on_edge(dist[eu[e]], dist[ev[e]], elen[e], t_pos[t], t_door[t])
    for s in range(len(s_edge)):  # along the edge from a source on the same edge
        e = s_edge[s]
        for t in range(t_ptr[e], t_ptr[e + 1]):
            d = t_door[t] + abs(t_pos[t] - s_pos[s]) + s_door[s]
            if d < out[t]:
                out[t] = d
    return out


@njit(cache=True, nogil=True)
def edge_counts(indptr, indices, data, eu, ev, elen, node_ptr, node_edge, s_edge, s_pos,
                s_door, weights, t_pos, t_door, t_ptr, limits):
    """``counts[k, q]``: summed weights of the sources within ``limits[k]`` of target ``q``.

    Points as in :func:`edge_nearest`, the targets sorted by edge (those of edge ``e`` are
    ``t_ptr[e]:t_ptr[e + 1]``). One bounded search per source over the street nodes (up to
    the largest limit, ``limits`` ascending); then every edge touching a reached node is
    visited once (from its ``u`` end, or from its ``v`` end when ``u`` was not reached) and
    the targets on it get their time from its ends (and along the edge from the source when
    the source lies on it). ``node_ptr``/``node_edge``: the edges at each node; edges without
    targets may be left out.
    """
    n = len(indptr) - 1
    n_t = len(t_pos)
    n_k = len(limits)
    counts = np.zeros((n_k, n_t), np.int64)
    if n_k == 0:
        return counts
    top = limits[n_k - 1]
    dist = np.full(n, np.inf)
    visited = np.empty(n, np.int64)
    wq = _queue(top, len(indices))
    for s in range(len(s_edge)):
        es = s_edge[s]
        w = weights[s]
        n_vis = _ball_from_edge(indptr, indices, data, eu[es], s_door[s] + s_pos[s], ev[es],
                                s_door[s] + (elen[es] - s_pos[s]), top, dist, visited, wq)
        for q in range(t_ptr[es], t_ptr[es + 1]):
            d = _on_edge(dist[eu[es]], dist[ev[es]], elen[es], t_pos[q], t_door[q])
            d = min(d, t_door[q] + abs(t_pos[q] - s_pos[s]) + s_door[s])
            k = n_k - 1
            while k >= 0 and d <= limits[k]:
                counts[k, q] += w
                k -= 1
        for i in range(n_vis):
            x = visited[i]
            for j in range(node_ptr[x], node_ptr[x + 1]):
                e = node_edge[j]
                a = eu[e]
                if e == es or (x != a and dist[a] < np.inf):
                    continue  # the source's own edge (done), or done from its u end
                du = dist[a]
                dv = dist[ev[e]]
                le = elen[e]
                for q in range(t_ptr[e], t_ptr[e + 1]):
                    d = _on_edge(du, dv, le, t_pos[q], t_door[q])
                    k = n_k - 1
                    while k >= 0 and d <= limits[k]:
                        counts[k, q] += w
                        k -= 1
        for i in range(n_vis):
            x = visited[i]
            dist[x] = np.inf
    return counts
