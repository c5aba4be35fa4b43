"""A* on an 8-connected grid of traversal factors (numba kernel).

Hart, Nilsson & Raphael, "A Formal Basis for the Heuristic Determination of Minimum Cost Paths" (1968).
Edges join each cell to its 8 neighbours and cost :func:`rover_autonomy.planning.costs.edge_cost`.

Heuristic. The plain octile distance times the smallest traversal factor is consistent but weak on rough
ground, where every cell costs more than the cheapest one. It is tightened by *block potentials*: the grid
is cut into B×B blocks, ``m_s`` is the smallest factor of the cells of block ``s``, and two shortest-
path distances from the goal's block are computed on the lattice of block corners, with edge weights
``B·m·a`` along x and ``B·m·b`` along y, for (a, b) = (1, √2−1) and (√2−1, 1) (``m`` the smaller of the
two blocks the lattice edge borders). Bilinear interpolation of such a potential has, inside block ``s``,
|∂h/∂x| ≤ a·m_s and |∂h/∂y| ≤ b·m_s; since a ≤ 1, b ≤ 1 and a + b = √2, h changes by at most
(length in the block) × m_s along any straight 8-neighbour move. A move between two cell centres runs
half in each cell, so h changes by at most length · (f_a + f_b) / 2 — its edge cost. Both
interpolants are therefore consistent, as is their maximum with the octile bound, and their maximum is
exactly the octile distance × ``m`` where the factors are uniform — while it also sees detours around
blocks that are entirely forbidden or expensive. With a consistent heuristic the first time the goal is
popped its cost is optimal. Ties in f are broken towards the smaller heuristic (deeper nodes), which keeps
the open list short on open ground. The open list is a 4-ary heap over flat arrays with lazy deletion.

The search can be confined to a rectangular window of the grid (for local repairs); the arrays it
allocates are the window's size.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from rover_autonomy.planning.costs import edge_cost

SQRT2 = math.sqrt(2.0)
_DR = np.array([-1, -1, -1, 0, 0, 1, 1, 1], dtype=np.int64)
_DC = np.array([-1, 0, 1, -1, 1, -1, 0, 1], dtype=np.int64)


@numba.njit(cache=True, inline="always")
def _octile(dr: int, dc: int) -> float:
    dr = abs(dr)
    dc = abs(dc)
    if dr > dc:
        return (dr - dc) + SQRT2 * dc
    return (dc - dr) + SQRT2 * dr


# Open list: a 4-ary min-heap of (key, node) in two flat arrays. Ties in f go to the smaller heuristic
# through the key f + TIE·h, i.e. A* with the heuristic weighted by 1 + TIE: the cost is within a
# relative 1e-7 of optimal, far below the float32 resolution of the costs.
TIE = 1e-7


@numba.njit(cache=True, inline="always")
def _push(keys, nodes, size, key, node):
    k = size
    while k > 0:
        parent = (k - 1) >> 2
        if key < keys[parent]:
            keys[k] = keys[parent]
            nodes[k] = nodes[parent]
            k = parent
        else:
            break
    keys[k] = key
    nodes[k] = node


@numba.njit(cache=True, inline="always")
def _pop(keys, nodes, size):
    """Remove the root of a heap of ``size`` entries (the caller has read it); returns nothing."""
    size -= 1
    key = keys[size]
    node = nodes[size]
    k = 0
    while True:
        first = 4 * k + 1
        if first >= size:
            break
        best = first
        last = min(first + 4, size)
        for child in range(first + 1, last):
            if keys[child] < keys[best]:
                best = child
        if keys[best] < key:
            keys[k] = keys[best]
            nodes[k] = nodes[best]
            k = best
        else:
            break
    keys[k] = key
    nodes[k] = node


def block_minima(factors: np.ndarray, block: int) -> np.ndarray:
    """Smallest factor of each ``block``×``block`` block of cells (``inf`` if all forbidden)."""
    height, width = factors.shape
    out = np.full((-(-height // block), -(-width // block)), np.inf)
    _block_minima(np.ascontiguousarray(factors, dtype=np.float64), block, out)
    return out


@numba.njit(cache=True)
def _block_minima(factors, block, out):
    height, width = factors.shape
    for r in range(height):
        i = r // block
        for c in range(width):
            j = c // block
            if factors[r, c] < out[i, j]:
                out[i, j] = factors[r, c]


@numba.njit(cache=True)
def _corner_potential(block_min, block, goal_r, goal_c, ax, by):
    """Shortest-path distances on the block-corner lattice from the goal block's four corners."""
    nby, nbx = block_min.shape
    rows, cols = nby + 1, nbx + 1
    n = rows * cols
    dist = np.full(n, np.inf)
    done = np.zeros(n, dtype=np.bool_)
    capacity = 4 * n + 8
    keys = np.empty(capacity)
    nodes = np.empty(capacity, dtype=np.int64)
    size = 0
    gi, gj = goal_r // block, goal_c // block
    for di in range(2):
        for dj in range(2):
            node = (gi + di) * cols + gj + dj
            dist[node] = 0.0
            _push(keys, nodes, size, 0.0, node)
            size += 1
    while size > 0:
        current = nodes[0]
        _pop(keys, nodes, size)
        size -= 1
        if done[current]:
            continue
        done[current] = True
        i = current // cols
        j = current - i * cols
        for k in range(4):
            if k == 0:  # left: edge along x between corners (i, j-1) and (i, j)
                ni, nj, horizontal = i, j - 1, True
            elif k == 1:
                ni, nj, horizontal = i, j + 1, True
            elif k == 2:
                ni, nj, horizontal = i - 1, j, False
            else:
                ni, nj, horizontal = i + 1, j, False
            if ni < 0 or ni >= rows or nj < 0 or nj >= cols:
                continue
            neighbour = ni * cols + nj
            if done[neighbour]:
                continue
            # The blocks bordering this lattice edge.
            m = np.inf
            if horizontal:
                bj = min(j, nj)
                if i - 1 >= 0:
                    m = min(m, block_min[i - 1, bj])
                if i < nby:
                    m = min(m, block_min[i, bj])
                weight = block * ax * m
            else:
                bi = min(i, ni)
                if j - 1 >= 0:
                    m = min(m, block_min[bi, j - 1])
                if j < nbx:
                    m = min(m, block_min[bi, j])
                weight = block * by * m
            d = dist[current] + weight
            if d < dist[neighbour]:
                dist[neighbour] = d
                _push(keys, nodes, size, d, neighbour)
                size += 1
    return dist.reshape(rows, cols)


def block_potentials(block_min: np.ndarray, block: int, goal_r: int, goal_c: int) -> np.ndarray:
    """(2, nby+1, nbx+1) corner potentials of the goal, x-favoured and y-favoured (see module doc)."""
    slim = SQRT2 - 1.0
    return np.stack(
        [
            _corner_potential(block_min, block, goal_r, goal_c, 1.0, slim),
            _corner_potential(block_min, block, goal_r, goal_c, slim, 1.0),
        ]
    )


NO_POTENTIALS = np.zeros((2, 1, 1))  # pass with block = 0: the octile bound alone


@numba.njit(cache=True, inline="always")
def _interp(pot, layer, i, j, fy, fx):
    top = pot[layer, i, j] + fx * (pot[layer, i, j + 1] - pot[layer, i, j])
    bottom = pot[layer, i + 1, j] + fx * (pot[layer, i + 1, j + 1] - pot[layer, i + 1, j])
    return top + fy * (bottom - top)


@numba.njit(cache=True, inline="always")
def _heuristic(r, c, goal_r, goal_c, h_scale, potentials, block):
    h = h_scale * _octile(goal_r - r, goal_c - c)
    if block > 0:
        y = r + 0.5
        x = c + 0.5
        i = int(y // block)
        j = int(x // block)
        fy = (y - i * block) / block
        fx = (x - j * block) / block
        for layer in range(2):
            corners_finite = (
                np.isfinite(potentials[layer, i, j])
                and np.isfinite(potentials[layer, i, j + 1])
                and np.isfinite(potentials[layer, i + 1, j])
                and np.isfinite(potentials[layer, i + 1, j + 1])
            )
            if not corners_finite:
                return np.inf  # no lattice path to the goal: neither is there a grid path
            h = max(h, _interp(potentials, layer, i, j, fy, fx))
    return h


@numba.njit(cache=True)
def _heuristic_grid(cells, start, goal, h_scale, potentials, block):
    """Lower bound on the cost of any start → cell → goal path, for each (row, col) of ``cells``."""
    out = np.empty(cells.shape[0])
    for k in range(cells.shape[0]):
        r, c = cells[k, 0], cells[k, 1]
        to_cell = h_scale * _octile(r - start[0], c - start[1])
        out[k] = to_cell + _heuristic(r, c, goal[0], goal[1], h_scale, potentials, block)
    return out


@numba.njit(cache=True)
def astar(factors, start_r, start_c, goal_r, goal_c, r0, r1, c0, c1, potentials, block):
    """Optimal 8-connected path from start to goal inside rows [r0, r1) and columns [c0, c1).

    ``factors`` is the (H, W) float64 traversal-factor grid (``inf`` = forbidden). ``potentials`` and
    ``block`` come from :func:`block_potentials` for this goal (``block = 0`` uses the octile bound
    alone). Returns ``(cells, cost, expanded)``: an (N, 2) int64 array of (row, col) from start to goal
    (empty if there is no path), the path cost in cells (× resolution for metres) and the number of
    expanded cells.
    """
    empty = np.empty((0, 2), dtype=np.int64)
    if not (r0 <= start_r < r1 and c0 <= start_c < c1 and r0 <= goal_r < r1 and c0 <= goal_c < c1):
        return empty, np.inf, 0
    if not (np.isfinite(factors[start_r, start_c]) and np.isfinite(factors[goal_r, goal_c])):
        return empty, np.inf, 0
    # The window with a one-cell forbidden border: neighbours never need bounds checks.
    height = r1 - r0 + 2
    width = c1 - c0 + 2
    n = height * width
    local = np.full(n, np.inf, dtype=np.float32)
    h_scale = np.inf
    for r in range(r0, r1):
        row = (r - r0 + 1) * width + 1
        for c in range(c0, c1):
            value = factors[r, c]
            local[row + c - c0] = value
            if value < h_scale:
                h_scale = value
    offsets = np.empty(8, dtype=np.int64)
    steps = np.empty(8)
    for k in range(8):
        offsets[k] = _DR[k] * width + _DC[k]
        steps[k] = SQRT2 if _DR[k] != 0 and _DC[k] != 0 else 1.0

    g = np.full(n, np.inf, dtype=np.float32)
    hcache = np.full(n, -1.0, dtype=np.float32)  # -1: not computed yet
    came_from = np.full(n, -1, dtype=np.int8)  # index into offsets of the move that reached the cell
    closed = np.zeros(n, dtype=np.bool_)
    capacity = 4096
    keys = np.empty(capacity)
    nodes = np.empty(capacity, dtype=np.int64)

    start = (start_r - r0 + 1) * width + (start_c - c0 + 1)
    goal = (goal_r - r0 + 1) * width + (goal_c - c0 + 1)
    g[start] = 0.0
    h0 = _heuristic(start_r, start_c, goal_r, goal_c, h_scale, potentials, block)
    keys[0] = h0 * (1.0 + TIE)
    nodes[0] = start
    size = 1
    expanded = 0
    while size > 0:
        current = nodes[0]
        _pop(keys, nodes, size)
        size -= 1
        if closed[current]:
            continue
        closed[current] = True
        expanded += 1
        if current == goal:
            break
        f_here = local[current]
        g_here = g[current]
        for k in range(8):
            neighbour = current + offsets[k]
            if closed[neighbour]:
                continue
            f_next = local[neighbour]
            if f_next == np.inf:
                continue
            g_new = g_here + edge_cost(steps[k], f_here, f_next)
            if g_new < g[neighbour]:
                h = hcache[neighbour]
                if h < 0.0:
                    nr = neighbour // width - 1 + r0
                    nc = neighbour % width - 1 + c0
                    h = _heuristic(nr, nc, goal_r, goal_c, h_scale, potentials, block)
                    hcache[neighbour] = h
                if h == np.inf:
                    continue
                g[neighbour] = g_new
                came_from[neighbour] = k
                if size == capacity:
                    capacity *= 2
                    grown_keys = np.empty(capacity)
                    grown_nodes = np.empty(capacity, dtype=np.int64)
                    grown_keys[:size] = keys[:size]
                    grown_nodes[:size] = nodes[:size]
                    keys, nodes = grown_keys, grown_nodes
                _push(keys, nodes, size, g_new + h * (1.0 + TIE), neighbour)
                size += 1

    if not closed[goal]:
        return empty, np.inf, expanded
    length = 1
    node = goal
    while node != start:
        node -= offsets[came_from[node]]
        length += 1
    cells = np.empty((length, 2), dtype=np.int64)
    node = goal
    for k in range(length - 1, -1, -1):
        cells[k, 0] = node // width - 1 + r0
        cells[k, 1] = node % width - 1 + c0
        if k > 0:
            node -= offsets[came_from[node]]
    return cells, float(g[goal]), expanded
