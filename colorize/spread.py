"""How a colour point spreads: over its object, not across the object's edges.

After the network, each point's colour is carried over the pixels it is joined to by a path that
crosses no edge.  A path's length is measured in working pixels, and every step across a change of
lightness (or of the network's own chroma, which tells apart objects of one gray) costs more:

    step(p, q) = 1 + LIGHTNESS_COST * max(0, |L(p) - L(q)| - TEXTURE)
                   + CHROMA_COST * max(0, |ab(p) - ab(q)| - TEXTURE)

``D_k(p)``, the shortest such path from point k to pixel p (a geodesic distance), comes from
:func:`geodesic_distance`.  With ``s`` the working image's long side:

* how much the points decide pixel p: ``alpha(p) = exp(-(min_k D_k(p) / (REACH * s)) ** POWER)``,
  1 at a point, near 1 over its object, near 0 across an edge (POWER 2: flat near the point, so
  the object is coloured evenly, then falling fast);
* the colour they give it: the points' chroma averaged with weights ``exp(-D_k(p) / (BLEND * s))``,
  so that several points on one object blend by position;
* the result: ``(1 - alpha) * (network + cast) + alpha * points``, where the cast is zero unless
  points on several objects agree that the network missed a scene-wide tint (:func:`scene_cast`).

Inside an object the colour is the points' own, flat in chroma (the photo keeps its lightness), so
no point stamps a dot; outside, the network's colour is left as it was.  The constants were chosen
by the figures of ``experiments/colour_points.py`` (reach, leak, stamp on synthetic scenes and on
validation photos with an object mask made from the truth; the gain with 1, 3 and 10 points).
"""
from __future__ import annotations

import numpy as np

TEXTURE = 1.5          # lightness or chroma steps up to this many Lab units between neighbours are free
LIGHTNESS_COST = 25.0  # path length (working pixels) per Lab unit of lightness step beyond TEXTURE
CHROMA_COST = 6.25     # the same per unit of the network's chroma step
REACH = 0.5            # alpha falls by e over this fraction of the long side of free path
BLEND = 0.05           # sharpness of the blend between points, as a fraction of the long side
POWER = 2.0            # the fall of alpha with path length: 1 an exponential, 2 a Gaussian
CAST_SEPARATION = 0.25  # points nearer than this fraction of the long side count as one object for the cast
CAST_PRIOR = 14.0      # the scene-wide cast: weight of "no cast" against the number of further objects with points
MAX_SWEEPS = 8         # rounds of the four sweeps (each adds two turns to the paths found)


def _sweep_horizontal(distance: np.ndarray, cumulative: np.ndarray) -> np.ndarray:
    """Shortest paths along each row, both ways, given the cumulative step cost along the row."""
    forward = cumulative + np.minimum.accumulate(distance - cumulative, axis=-1)
    distance = np.minimum(distance, forward)
    flipped = (distance + cumulative)[..., ::-1]
    backward = np.minimum.accumulate(flipped, axis=-1)[..., ::-1] - cumulative
    return np.minimum(distance, backward)


def geodesic_distance(seeds, step_right: np.ndarray, step_down: np.ndarray,
                      max_sweeps: int = MAX_SWEEPS) -> np.ndarray:
    """Shortest path lengths (K, h, w) from each of K seed pixels over a 4-connected grid.

    ``seeds`` is a sequence of ``(row, col)``; ``step_right`` (h, w - 1) is the cost of the step
    from ``(r, c)`` to ``(r, c + 1)`` and ``step_down`` (h - 1, w) from ``(r, c)`` to
    ``(r + 1, c)``, both positive, either way.  Each sweep is exact along its line (the path
    length along a row is a cumulative sum, so the best start to the left of each pixel is a
    running minimum); rows and columns alternate until nothing changes, or ``max_sweeps``
    rounds, which finds every path with up to ``2 * max_sweeps - 1`` turns.
    """
    height, width = step_right.shape[0], step_down.shape[1]
    if step_right.shape != (height, width - 1) or step_down.shape != (height - 1, width):
        raise ValueError(f"step costs of shapes {step_right.shape} and {step_down.shape} do not make a grid")
    along_row = np.concatenate([np.zeros((height, 1)), np.cumsum(step_right, axis=1, dtype=np.float64)], axis=1)
    along_col = np.concatenate([np.zeros((1, width)), np.cumsum(step_down, axis=0, dtype=np.float64)], axis=0).T
    distance = np.full((len(seeds), height, width), np.inf)
    for k, (row, col) in enumerate(seeds):
        distance[k, row, col] = 0.0
    for _ in range(max_sweeps):
        before = distance
        distance = _sweep_horizontal(distance, along_row)
        distance = _sweep_horizontal(distance.transpose(0, 2, 1), along_col).transpose(0, 2, 1)
        if np.array_equal(distance, before):
            break
    return distance


def step_costs(lightness: np.ndarray, ab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cost of each step right and down on the working grid (see the module's formula)."""
    def cost(axis):
        light = np.abs(np.diff(lightness.astype(np.float64), axis=axis))
        chroma = np.sqrt((np.diff(ab.astype(np.float64), axis=axis) ** 2).sum(axis=-1))
        return (1 + LIGHTNESS_COST * np.maximum(light - TEXTURE, 0)
                + CHROMA_COST * np.maximum(chroma - TEXTURE, 0))
    return cost(1), cost(0)


def spread_points(ab: np.ndarray, lightness: np.ndarray, centres, chroma: np.ndarray) -> np.ndarray:
    """The network's chroma ``ab`` (h, w, 2) with the points' colours spread over their objects.

    ``lightness`` (h, w) is the CIE L the network saw, ``centres`` the working pixel ``(row, col)``
    of each point and ``chroma`` (K, 2) their colours' (a, b).  No points: ``ab`` unchanged.
    """
    if not len(centres):
        return ab
    side = max(lightness.shape)
    chroma = np.asarray(chroma, dtype=np.float64)
    distance = geodesic_distance(centres, *step_costs(lightness, ab))
    alpha = np.exp(-(distance.min(axis=0) / (REACH * side)) ** POWER)
    nearest = distance - distance.min(axis=0)            # the blend's weights, relative to the nearest point
    weights = np.exp(-nearest / (BLEND * side))
    colour = np.tensordot(weights, chroma, axes=(0, 0)) / weights.sum(axis=0)[..., None]
    rest = ab + scene_cast(ab, distance, centres, chroma, side)
    return ((1 - alpha)[..., None] * rest + alpha[..., None] * colour).astype(ab.dtype)


def scene_cast(ab: np.ndarray, distance: np.ndarray, centres, chroma: np.ndarray, side: int) -> np.ndarray:
    """The correction (a, b) that points on several objects, agreeing, make to the whole scene.

    Points within ``REACH * side`` of free path, or ``CAST_SEPARATION * side`` in the image, of
    one another count as one object (one object's points may sit apart across its own texture).  Each object's
    residual is its points' colour minus the network's there; with ``n`` objects, the cast is their
    mean residual times ``agreement * (n - 1) / (n - 1 + CAST_PRIOR)``, where agreement is the
    length of the mean residual over the mean of their lengths (1 when they all point one way).
    Points on one object say nothing about the rest of the scene (no cast); many points over the
    scene that all say "warmer" (a scene-wide tint the network missed) move it.
    """
    objects: list[list[int]] = []
    for k in range(len(centres)):
        for members in objects:
            first = members[0]
            if (distance[first][centres[k]] < REACH * side
                    or np.hypot(*np.subtract(centres[first], centres[k])) < CAST_SEPARATION * side):
                members.append(k)
                break
        else:
            objects.append([k])
    if len(objects) < 2:
        return np.zeros(2)
    residuals = np.array([np.mean([chroma[k] - ab[centres[k]] for k in members], axis=0) for members in objects])
    mean = residuals.mean(axis=0)
    agreement = np.hypot(*mean) / max(np.hypot(*residuals.T).mean(), 1e-9)
    count = len(objects) - 1
    return mean * agreement * count / (count + CAST_PRIOR)


def region_colours(ab: np.ndarray, lightness: np.ndarray, centre, count: int = 3,
                   reach: float = 0.1) -> np.ndarray:
    """The network's main colours over the region of a point at working pixel ``centre``: (k, 2)
    (a, b), k <= ``count``, the most common first.

    The region is the pixels within ``reach`` times the long side of the point by
    :func:`geodesic_distance` over the lightness alone (not the network's chroma, whose edges are
    what the palette should offer a choice across).  Its chroma is split into ``count`` clusters by k-means (started
    from the point's own colour and then, each time, the colour farthest from those chosen, so the
    result is deterministic); clusters closer than 4 Lab units to a larger one are dropped.
    """
    distance = geodesic_distance([centre], *step_costs(lightness, np.zeros_like(ab)))[0]
    values = ab[distance <= reach * max(lightness.shape)].astype(np.float64)
    centres = [ab[centre].astype(np.float64)]
    while len(centres) < count:
        gaps = np.min([np.hypot(*(values - c).T) for c in centres], axis=0)
        if gaps.max() < 4.0:
            break
        centres.append(values[np.argmax(gaps)])
    centres = np.array(centres)
    for _ in range(10):
        nearest = np.argmin([np.hypot(*(values - c).T) for c in centres], axis=0)
        centres = np.array([values[nearest == k].mean(axis=0) if (nearest == k).any() else c
                            for k, c in enumerate(centres)])
    sizes = np.bincount(nearest, minlength=len(centres))
    chosen = []
    for k in np.argsort(-sizes, kind="stable"):
        if sizes[k] and all(np.hypot(*(centres[k] - centres[j])) >= 4.0 for j in chosen):
            chosen.append(k)
    return centres[chosen]
