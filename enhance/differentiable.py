"""The continuous enhancements as layers of the engine: forward, a hand-written backward, learnable parameters.

This is the one module of ``enhance`` that uses the engine (``nnscratch.module``);
``import enhance`` does not load it.  Each layer takes a batch of float RGB
images ``(N, 3, H, W)`` in [0, 1] (NumPy or CuPy) and computes the same formula
as the ``enhance`` function of the same name on float input (tested), so a
chain of them can be fitted by backpropagation and the fitted parameters then
applied to a full-size photo with the plain functions.

Clipping.  Where the plain function clips its result to [0, 1], so does the
layer, and the gradient through a clipped element is 0 (the clip's derivative
is taken as 0 outside the open interval (0, 1) and at its ends).  A parameter
whose every output is clipped therefore stops learning; the tests state this.

Luma is Rec. 601 on RGB (0.299 R + 0.587 G + 0.114 B), as ``enhance`` uses for floats.
"""
from __future__ import annotations

import numpy as np

from nnscratch.backend import get_array_module
from nnscratch.module import Module, Parameter

from .colorspace import EPSILON, KAPPA, RGB_TO_XYZ, WHITE_D65
from .filters import gaussian_kernel, kernel_size, reflect_101

LUMA = np.array([0.299, 0.587, 0.114])


def _scalar(value: float, dtype=np.float32) -> Parameter:
    return Parameter(np.array([value], dtype=dtype))


def _check(module: Module, x) -> None:
    if getattr(x, "ndim", 0) != 4 or x.shape[1] != 3:
        raise ValueError(f"{type(module).__name__} expects float RGB images (N, 3, H, W), got "
                         f"{getattr(x, 'shape', type(x).__name__)}")


def _luma(x):
    """(N, 1, H, W) Rec. 601 luma of (N, 3, H, W) RGB."""
    xp = get_array_module(x)
    weights = xp.asarray(LUMA, dtype=x.dtype).reshape(1, 3, 1, 1)
    return (x * weights).sum(axis=1, keepdims=True)


def _inside(z):
    """Where ``clip(z, 0, 1)`` has derivative 1 (strictly inside the interval)."""
    return (z > 0) & (z < 1)


class Brightness(Module):
    """``y = clip(f x, 0, 1)`` (``enhance.brightness``);  ``dx = g f [inside]``, ``df = Σ g x [inside]``."""

    def __init__(self, factor: float = 1.0):
        super().__init__()
        self.factor = _scalar(factor)

    def forward(self, x):
        _check(self, x)
        self.x, self.z = x, self.factor.data * x
        return get_array_module(x).clip(self.z, 0, 1)

    def backward(self, grad_output):
        grad = grad_output * _inside(self.z)
        self.factor.accumulate((grad * self.x).sum().reshape(1))
        return grad * self.factor.data


class Contrast(Module):
    """``y = clip(μ + f (x - μ), 0, 1)`` with μ the mean luma of each image (``enhance.contrast``).

    Backward: with ``r = g [inside]``: ``df = Σ r (x - μ)``; μ receives ``Σ r (1 - f)`` per image and
    hands it to every pixel as ``w_c / (H W)``; ``dx = r f + that``.
    """

    def __init__(self, factor: float = 1.0):
        super().__init__()
        self.factor = _scalar(factor)

    def forward(self, x):
        _check(self, x)
        self.x = x
        self.mean = _luma(x).mean(axis=(2, 3), keepdims=True)          # (N, 1, 1, 1)
        self.z = self.mean + self.factor.data * (x - self.mean)
        return get_array_module(x).clip(self.z, 0, 1)

    def backward(self, grad_output):
        xp = get_array_module(grad_output)
        grad = grad_output * _inside(self.z)
        factor = self.factor.data
        self.factor.accumulate((grad * (self.x - self.mean)).sum().reshape(1))
        to_mean = (grad * (1 - factor)).sum(axis=(1, 2, 3), keepdims=True)    # (N, 1, 1, 1)
        pixels = self.x.shape[2] * self.x.shape[3]
        weights = xp.asarray(LUMA, dtype=self.x.dtype).reshape(1, 3, 1, 1)
        return grad * factor + to_mean * weights / pixels


class Saturation(Module):
    """``y = clip(L + f (x - L), 0, 1)`` with L the pixel's luma (``enhance.saturation``).

    Backward: ``r = g [inside]``, ``df = Σ r (x - L)``, ``dx = r f + w_c Σ_c' r (1 - f)``.
    """

    def __init__(self, factor: float = 1.0):
        super().__init__()
        self.factor = _scalar(factor)

    def forward(self, x):
        _check(self, x)
        self.x, self.luma = x, _luma(x)
        self.z = self.luma + self.factor.data * (x - self.luma)
        return get_array_module(x).clip(self.z, 0, 1)

    def backward(self, grad_output):
        xp = get_array_module(grad_output)
        grad = grad_output * _inside(self.z)
        factor = self.factor.data
        self.factor.accumulate((grad * (self.x - self.luma)).sum().reshape(1))
        to_luma = (grad * (1 - factor)).sum(axis=1, keepdims=True)
        return grad * factor + to_luma * xp.asarray(LUMA, dtype=self.x.dtype).reshape(1, 3, 1, 1)


class Gamma(Module):
    """``y = clip(gain x^γ, 0, 1)`` (``enhance.gamma``).

    Backward with ``r = g [inside]``: ``dγ = Σ r gain x^γ ln x``, ``dgain = Σ r x^γ``,
    ``dx = r gain γ x^(γ-1)``; at x = 0 the terms with ``ln x`` or ``x^(γ-1)`` are taken as 0
    (the curve's one-sided limit for γ > 1; for γ < 1 the derivative there is infinite).
    """

    def __init__(self, gamma: float = 1.0, gain: float = 1.0):
        super().__init__()
        self.gamma = _scalar(gamma)
        self.gain = _scalar(gain)

    def forward(self, x):
        _check(self, x)
        xp = get_array_module(x)
        self.x, self.power = x, x ** self.gamma.data
        self.z = self.gain.data * self.power
        return xp.clip(self.z, 0, 1)

    def backward(self, grad_output):
        xp = get_array_module(grad_output)
        grad = grad_output * _inside(self.z)
        positive = self.x > 0
        safe = xp.where(positive, self.x, 1)
        self.gamma.accumulate((grad * self.gain.data * self.power * xp.log(safe)).sum().reshape(1))
        self.gain.accumulate((grad * self.power).sum().reshape(1))
        slope = xp.where(positive, self.gamma.data * safe ** (self.gamma.data - 1), 0)
        return grad * self.gain.data * slope


class RGBGains(Module):
    """``y_c = clip(k_c x_c, 0, 1)`` (``enhance.rgb``);  ``dk_c = Σ r_c x_c``, ``dx_c = r_c k_c``."""

    def __init__(self, red: float = 1.0, green: float = 1.0, blue: float = 1.0):
        super().__init__()
        self.gains = Parameter(np.array([red, green, blue], dtype=np.float32))

    def forward(self, x):
        _check(self, x)
        self.x = x
        self.z = x * self.gains.data.reshape(1, 3, 1, 1)
        return get_array_module(x).clip(self.z, 0, 1)

    def backward(self, grad_output):
        grad = grad_output * _inside(self.z)
        self.gains.accumulate((grad * self.x).sum(axis=(0, 2, 3)))
        return grad * self.gains.data.reshape(1, 3, 1, 1)


class Invert(Module):
    """``y = 1 - x`` (``enhance.invert``);  ``dx = -g``.  No parameters."""

    def forward(self, x):
        _check(self, x)
        return 1 - x

    def backward(self, grad_output):
        return -grad_output


class ToneCurve(Module):
    """A smooth S-shaped tone curve through (0, 0) and (1, 1): the normalised logistic

        y = (s(k (x - m)) - s(-k m)) / (s(k (1 - m)) - s(-k m)),   s(t) = 1 / (1 + e^-t)

    ``strength`` k > 0 steepens the mid-tones around ``midpoint`` m (k → 0 is the identity),
    the local-contrast look of "HDR" tone mapping; k < 0 flattens them (an inverted S); a midpoint
    outside [0, 1] leaves one arm of the S, a convex or concave bend like a gamma.  Every partial
    derivative is ``s' = s (1 - s)`` times the inner derivative, through the quotient rule.
    """

    def __init__(self, strength: float = 1.0, midpoint: float = 0.5):
        super().__init__()
        self.strength = _scalar(strength)
        self.midpoint = _scalar(midpoint)

    def forward(self, x):
        _check(self, x)
        xp = get_array_module(x)
        k, m = self.strength.data, self.midpoint.data
        sigmoid = lambda t: 1 / (1 + xp.exp(-t))  # noqa: E731
        self.x = x
        self.a, self.low, self.high = sigmoid(k * (x - m)), sigmoid(-k * m), sigmoid(k * (1 - m))
        self.span = self.high - self.low
        return (self.a - self.low) / self.span

    def backward(self, grad_output):
        k, m = self.strength.data, self.midpoint.data
        slope_a, slope_low, slope_high = (s * (1 - s) for s in (self.a, self.low, self.high))
        value = (self.a - self.low) / self.span

        def through(d_a, d_low, d_high):            # dy/dθ for one parameter θ
            return ((d_a - d_low) - value * (d_high - d_low)) / self.span

        d_strength = through(slope_a * (self.x - m), slope_low * (-m), slope_high * (1 - m))
        d_midpoint = through(slope_a * (-k), slope_low * (-k), slope_high * (-k))
        self.strength.accumulate((grad_output * d_strength).sum().reshape(1))
        self.midpoint.accumulate((grad_output * d_midpoint).sum().reshape(1))
        return grad_output * slope_a * k / self.span


class Log(Module):
    """``y = clip(gain log2(1 + x), 0, 1)`` (``enhance.log_transform``);
    ``dgain = Σ r log2(1 + x)``, ``dx = r gain / ((1 + x) ln 2)`` with ``r = g [inside]``."""

    def __init__(self, gain: float = 1.0):
        super().__init__()
        self.gain = _scalar(gain)

    def forward(self, x):
        _check(self, x)
        xp = get_array_module(x)
        self.x, self.curve = x, xp.log2(1 + x)
        self.z = self.gain.data * self.curve
        return xp.clip(self.z, 0, 1)

    def backward(self, grad_output):
        grad = grad_output * _inside(self.z)
        self.gain.accumulate((grad * self.curve).sum().reshape(1))
        return grad * self.gain.data / ((1 + self.x) * np.log(2))


def blur_matrix(size: int, sigma: float, xp=np, dtype=np.float64):
    """The (size, size) matrix of OpenCV's float Gaussian blur along one axis (reflect-101 borders):
    ``blur(x) = B x``.  Its transpose is the blur's adjoint, which backward needs (at the borders
    the reflected taps make B unsymmetric)."""
    taps = gaussian_kernel(kernel_size(sigma, np.float32), sigma)
    half = len(taps) // 2
    matrix = np.zeros((size, size))
    rows = np.arange(size)
    for offset, tap in enumerate(taps):
        np.add.at(matrix, (rows, reflect_101(rows + offset - half, size)), tap)
    return xp.asarray(matrix, dtype=dtype)


class UnsharpMask(Module):
    """``y = clip(x + a (x - blur(x)), 0, 1)`` with a fixed Gaussian blur (``enhance.unsharp_mask``,
    threshold 0).  Per channel ``blur(x) = B_h x B_wᵀ``, so with ``r = g [inside]``:
    ``da = Σ r (x - blur(x))`` and ``dx = (1 + a) r - a B_hᵀ r B_w``.
    """

    def __init__(self, amount: float = 1.0, sigma: float = 1.0):
        super().__init__()
        self.amount = _scalar(amount)
        self.sigma = float(sigma)
        self._matrices = {}

    def _blur_matrices(self, x):
        key = (x.shape[2], x.shape[3], x.dtype.str)
        if key not in self._matrices:
            xp = get_array_module(x)
            self._matrices = {key: (blur_matrix(x.shape[2], self.sigma, xp, x.dtype),
                                    blur_matrix(x.shape[3], self.sigma, xp, x.dtype))}
        return self._matrices[key]

    def forward(self, x):
        _check(self, x)
        rows, cols = self._blur_matrices(x)
        self.detail = x - rows @ x @ cols.T
        self.z = x + self.amount.data * self.detail
        return get_array_module(x).clip(self.z, 0, 1)

    def backward(self, grad_output):
        rows, cols = self._blur_matrices(grad_output)
        grad = grad_output * _inside(self.z)
        amount = self.amount.data
        self.amount.accumulate((grad * self.detail).sum().reshape(1))
        return (1 + amount) * grad - amount * (rows.T @ grad @ cols)


def _sigmoid(xp, t):
    return 0.5 * (1 + xp.tanh(0.5 * t))        # = 1 / (1 + e^-t), without overflow for large |t|


def soft_cdf(values, points, bandwidth: float):
    """The soft cumulative histogram of ``values`` (a flat array) at ``points``:

        F(v) = (1/n) Σ_i σ((v - x_i) / h),   σ the logistic function, h the bandwidth

    As h → 0 each σ becomes a step, 1 for x_i < v and 0 for x_i > v, and F the fraction of values
    below v: the cumulative histogram.  For h > 0 F is smooth in every x_i.  Returns F at every
    point and the (n, points) matrix of σ' / (h n) that :func:`soft_cdf_backward` needs.
    Cost: n × points logistic evaluations (use it on images of a few hundred pixels a side).
    """
    xp = get_array_module(values)
    s = _sigmoid(xp, (points[None, :] - values[:, None]) / bandwidth)
    return s.mean(axis=0), s * (1 - s) / (bandwidth * values.size)


def soft_cdf_backward(grad_cdf, slopes):
    """``dL/dx_i = -Σ_k dL/dF_k σ'_ik / (h n)``: the gradient of :func:`soft_cdf` for its values."""
    return -(slopes @ grad_cdf)


class SoftEqualize(Module):
    """A differentiable surrogate of histogram equalization (``enhance.equalize_hist``).

    ``equalize_hist`` maps each luma level v to its place in the cumulative histogram,
    ``T(v) = (C(v) - C(m)) / (C(M) - C(m))`` with C the fraction of pixels at or below v and m, M
    the darkest and brightest levels present, and moves every channel by ``T(Y) - Y``.  Here C is
    replaced by the soft CDF of :func:`soft_cdf` with bandwidth h, evaluated half a knot above each
    of ``knots`` evenly spaced levels (so that levels on a knot count as "at or below" it, as in
    OpenCV) and interpolated linearly between knots:

        y_c = clip(x_c + T(Y) - Y, 0, 1),   Y = 0.299 R + 0.587 G + 0.114 B.

    As h → 0 the forward approaches ``equalize_hist`` (measured in the tests: on an 8-bit photo
    with 256 knots the mean difference falls below half a level).  What is differentiable: the
    output in every pixel (through Y, the interpolation and the curve, whose knots depend on every
    pixel) and m and M (through the darkest and brightest pixel).  What is not: the curve is
    piecewise linear between knots, so its slope jumps at each knot, and ties for the darkest or
    brightest pixel make m and M non-differentiable (the gradient goes to the first of them).  There
    are no parameters: it is a fixed, differentiable operation to put in a chain.  CLAHE's
    surrogate, the same recipe per tile, is :class:`SoftCLAHE`.
    """

    def __init__(self, bandwidth: float = 0.02, knots: int = 256):
        super().__init__()
        if not bandwidth > 0 or knots < 2:
            raise ValueError(f"SoftEqualize needs bandwidth > 0 and at least 2 knots, got {bandwidth}, {knots}")
        self.bandwidth, self.knots = float(bandwidth), int(knots)

    def forward(self, x):
        _check(self, x)
        xp = get_array_module(x)
        luma = _luma(x)[:, 0]
        self.x, self.saved = x, []
        curves = xp.empty_like(luma)
        spacing = 1 / (self.knots - 1)
        for n, y in enumerate(luma.reshape(len(luma), -1)):
            low, high = int(y.argmin()), int(y.argmax())
            points = xp.concatenate([xp.arange(self.knots, dtype=x.dtype) * spacing, y[[low, high]]]) + spacing / 2
            cdf, slopes = soft_cdf(y, points, self.bandwidth)
            span = cdf[-1] - cdf[-2]
            table = (cdf[:-2] - cdf[-2]) / span
            position = y / spacing
            index = xp.clip(xp.floor(position).astype(np.int64), 0, self.knots - 2)
            t = position - index
            curves[n] = ((1 - t) * table[index] + t * table[index + 1]).reshape(luma.shape[1:])
            self.saved.append((low, high, cdf, slopes, span, table, index, t))
        self.z = x + (curves - luma)[:, None]
        return xp.clip(self.z, 0, 1)

    def backward(self, grad_output):
        xp = get_array_module(grad_output)
        grad = grad_output * _inside(self.z)
        to_curve = grad.sum(axis=1)                                         # dL/dT(Y) per pixel
        to_luma = -to_curve.copy()                                          # the "- Y" term
        spacing = 1 / (self.knots - 1)
        for n, (low, high, cdf, slopes, span, table, index, t) in enumerate(self.saved):
            g = to_curve[n].reshape(-1)
            # interpolation: the slope between the two knots, and the weights the knots receive
            step = (table[index + 1] - table[index]) / spacing
            d_luma = g * step
            d_table = (xp.bincount(index, weights=g * (1 - t), minlength=self.knots)
                       + xp.bincount(index + 1, weights=g * t, minlength=self.knots))
            # table = (F_k - F_m) / (F_M - F_m)
            d_cdf = xp.concatenate([d_table / span, ((d_table * (table - 1)).sum() / span)[None],
                                    (-(d_table * table).sum() / span)[None]])
            d_luma = d_luma + soft_cdf_backward(d_cdf, slopes)
            # the evaluation points m + δ and M + δ move with the darkest and brightest pixels
            d_luma[low] += d_cdf[-2] * slopes[:, -2].sum()
            d_luma[high] += d_cdf[-1] * slopes[:, -1].sum()
            to_luma[n] += d_luma.reshape(to_luma.shape[1:])
        weights = xp.asarray(LUMA, dtype=grad.dtype).reshape(1, 3, 1, 1)
        return grad + to_luma[:, None] * weights


class SoftCLAHE(Module):
    """A differentiable surrogate of contrast-limited adaptive equalization (``enhance.clahe``).

    OpenCV's CLAHE, step by step, with the histogram made soft: the image's luma is cut into
    ``tiles`` (the image must divide evenly); in each tile the soft counts of ``knots`` levels,
    ``c_k = area · (F(e_k+½) - F(e_k-½))`` with F the soft CDF of :func:`soft_cdf` (bandwidth h),
    are clipped at ``L = max(clip_limit · area / knots, 1)`` and the excess spread evenly,
    ``c'_k = min(c_k, L) + Σ_j max(c_j - L, 0) / knots``; the tile's curve is ``T_k = Σ_{j≤k} c'_j / area``;
    each pixel blends the curves of its four nearest tile centres with OpenCV's bilinear weights
    (each curve interpolated linearly between knots at the pixel's luma), and every channel moves
    by ``T(Y) - Y`` as in :class:`SoftEqualize`.  OpenCV hands the remainder of the excess out one
    count per bin from the first bin on; that pattern is kept as a constant
    (:meth:`_remainder_pattern`).  As h → 0 with 256 knots the forward approaches ``enhance.clahe``
    (measured in the tests).

    Differentiable: through the soft counts, the clip (its derivative is 1 below the limit and 0
    above, and the excess goes to every bin), the cumulative sums, the tile blend and the curves'
    interpolation.  Not: the kinks where a count meets the limit or a luma crosses a knot, and the
    steps of the remainder pattern where the excess crosses a half-integer.
    """

    def __init__(self, clip_limit: float = 2.0, tiles=(8, 8), bandwidth: float = 0.02, knots: int = 256):
        super().__init__()
        if not bandwidth > 0 or knots < 2:
            raise ValueError(f"SoftCLAHE needs bandwidth > 0 and at least 2 knots, got {bandwidth}, {knots}")
        self.clip_limit, self.bandwidth, self.knots = float(clip_limit), float(bandwidth), int(knots)
        self.tiles_x, self.tiles_y = (int(tiles), int(tiles)) if np.isscalar(tiles) else (int(tiles[0]), int(tiles[1]))

    def _geometry(self, height, width):
        if height % self.tiles_y or width % self.tiles_x:
            raise ValueError(f"SoftCLAHE needs the image ({width}x{height}) to divide into {self.tiles_x}x"
                             f"{self.tiles_y} tiles")
        tile_h, tile_w = height // self.tiles_y, width // self.tiles_x

        def axis(size, tile, count):                     # OpenCV's float32 tile-centre weights
            position = np.arange(size).astype(np.float32) * (np.float32(1) / np.float32(tile)) - np.float32(0.5)
            first = np.floor(position)
            weight = (position - first).astype(np.float64)
            first = first.astype(np.int64)
            return np.maximum(first, 0), np.minimum(first + 1, count - 1), weight

        return tile_h, tile_w, axis(width, tile_w, self.tiles_x), axis(height, tile_h, self.tiles_y)

    def _remainder_pattern(self, excess: float) -> np.ndarray:
        """OpenCV spreads the excess as a whole number per bin plus its remainder, one count to
        each of the first ``remainder`` bins at a regular step.  The even spread ``excess / knots``
        carries the gradient; this pattern, minus its own mean, is a constant added on top (it
        changes only where the excess crosses a half-integer)."""
        remainder = int(np.rint(excess)) % self.knots
        pattern = np.zeros(self.knots)
        if remainder:
            step = max(self.knots // remainder, 1)
            pattern[np.arange(0, self.knots, step)[:remainder]] = 1.0
        return pattern - remainder / self.knots

    def forward(self, x):
        _check(self, x)
        xp = get_array_module(x)
        n, _, height, width = x.shape
        tile_h, tile_w, (x1, x2, wx), (y1, y2, wy) = self._geometry(height, width)
        area, knots = tile_h * tile_w, self.knots
        spacing = 1 / (knots - 1)
        edges = xp.asarray((np.arange(knots + 1) - 0.5) * spacing, dtype=x.dtype)
        limit = max(self.clip_limit * area / knots, 1.0) if self.clip_limit > 0 else np.inf
        luma = _luma(x)[:, 0]
        position = luma / spacing
        index = xp.clip(xp.floor(position).astype(np.int64), 0, knots - 2)
        t = position - index
        # per pixel: its four tiles (row-major tile numbers) and their weights
        rows_a, rows_b = xp.asarray(y1)[:, None] * self.tiles_x, xp.asarray(y2)[:, None] * self.tiles_x
        cols_a, cols_b = xp.asarray(x1)[None, :], xp.asarray(x2)[None, :]
        wy_, wx_ = xp.asarray(wy, dtype=x.dtype)[:, None], xp.asarray(wx, dtype=x.dtype)[None, :]
        self.neighbours = [(rows_a + cols_a, (1 - wy_) * (1 - wx_)), (rows_a + cols_b, (1 - wy_) * wx_),
                           (rows_b + cols_a, wy_ * (1 - wx_)), (rows_b + cols_b, wy_ * wx_)]
        curves = xp.zeros_like(luma)
        self.saved = []
        for image in range(n):
            tiles = luma[image].reshape(self.tiles_y, tile_h, self.tiles_x, tile_w).transpose(0, 2, 1, 3)
            tiles = tiles.reshape(self.tiles_y * self.tiles_x, area)
            tables, per_tile = [], []
            for values in tiles:
                cdf, slopes = soft_cdf(values, edges, self.bandwidth)
                counts = area * (cdf[1:] - cdf[:-1])
                below = counts < limit
                excess = xp.maximum(counts - limit, 0).sum() if self.clip_limit > 0 else 0.0
                clipped = xp.where(below, counts, limit if self.clip_limit > 0 else counts) + excess / knots
                if self.clip_limit > 0:
                    clipped = clipped + xp.asarray(self._remainder_pattern(float(excess)), dtype=clipped.dtype)
                tables.append(xp.cumsum(clipped) / area)
                per_tile.append((slopes, below))
            table = xp.stack(tables)                                  # (tiles, knots)
            for tile, weight in self.neighbours:
                curves[image] += weight * ((1 - t[image]) * table[tile, index[image]] + t[image] * table[tile, index[image] + 1])
            self.saved.append((table, per_tile, tile_h, tile_w))
        self.x, self.luma, self.index, self.t = x, luma, index, t
        self.z = x + (curves - luma)[:, None]
        return xp.clip(self.z, 0, 1)

    def backward(self, grad_output):
        xp = get_array_module(grad_output)
        grad = grad_output * _inside(self.z)
        to_curve = grad.sum(axis=1)
        to_luma = -to_curve.copy()
        knots, spacing = self.knots, 1 / (self.knots - 1)
        for image, (table, per_tile, tile_h, tile_w) in enumerate(self.saved):
            g, index, t = to_curve[image], self.index[image], self.t[image]
            d_table = xp.zeros_like(table)
            d_luma = xp.zeros_like(g)
            for tile, weight in self.neighbours:
                low, high = table[tile, index], table[tile, index + 1]
                d_luma += g * weight * (high - low) / spacing
                flat = (tile * knots + index).reshape(-1)
                share = (g * weight).reshape(-1)
                d_table += (xp.bincount(flat, weights=share * (1 - t.reshape(-1)), minlength=table.size)
                            + xp.bincount(flat + 1, weights=share * t.reshape(-1), minlength=table.size)
                            ).reshape(table.shape)
            area = tile_h * tile_w
            d_tiles = []
            for tile_number, (slopes, below) in enumerate(per_tile):
                d_clipped = xp.cumsum(d_table[tile_number][::-1])[::-1] / area       # adjoint of cumsum / area
                spread = d_clipped.sum() / knots if self.clip_limit > 0 else 0.0
                d_counts = xp.where(below, d_clipped, spread) if self.clip_limit > 0 else d_clipped
                d_cdf = xp.zeros(knots + 1, dtype=d_counts.dtype)
                d_cdf[1:] += area * d_counts
                d_cdf[:-1] -= area * d_counts
                d_tiles.append(soft_cdf_backward(d_cdf, slopes))
            d_tiles = xp.stack(d_tiles).reshape(self.tiles_y, self.tiles_x, tile_h, tile_w).transpose(0, 2, 1, 3)
            to_luma[image] += d_luma + d_tiles.reshape(g.shape)
        weights = xp.asarray(LUMA, dtype=grad.dtype).reshape(1, 3, 1, 1)
        return grad + to_luma[:, None] * weights


# sRGB -> CIE Lab (``enhance.colorspace``), written out so that each step has its derivative beside it.
_XYZ_MATRIX = RGB_TO_XYZ / WHITE_D65[:, None]


class RGBToLab(Module):
    """sRGB in [0, 1] ``(N, 3, H, W)`` -> CIE L*a*b* ``(N, 3, H, W)``, as ``enhance.colorspace.rgb_to_lab``.

    Forward, per pixel:  ``l = lin(s)`` (sRGB decoding), ``t = M l`` (XYZ over the D65 white),
    ``f = f(t)``, ``L = 116 f_Y - 16``, ``a = 500 (f_X - f_Y)``, ``b = 200 (f_Y - f_Z)``.
    Backward, in reverse:  ``g_f = (500 g_a, 116 g_L - 500 g_a + 200 g_b, -200 g_b)``,
    ``g_t = g_f f'(t)`` with ``f' = t^(-2/3) / 3`` (cube-root part) or ``κ / 116`` (linear part),
    ``g_l = Mᵀ g_t``, ``g_s = g_l lin'(s)`` with ``lin' = 1 / 12.92`` or
    ``2.4 / 1.055 ((s + 0.055) / 1.055)^1.4``.  No parameters.
    """

    def forward(self, x):
        _check(self, x)
        xp = get_array_module(x)
        matrix = xp.asarray(_XYZ_MATRIX, dtype=x.dtype)
        self.x = x
        self.curved = x > 0.04045
        base = (xp.maximum(x, 0.04045) + 0.055) / 1.055
        linear = xp.where(self.curved, base ** 2.4, x / 12.92)
        self.linear_slope = xp.where(self.curved, 2.4 / 1.055 * base ** 1.4, 1 / 12.92)
        t = xp.einsum("jc,nchw->njhw", matrix, linear)
        cube = t > EPSILON
        root = xp.maximum(t, EPSILON) ** (1 / 3)
        f = xp.where(cube, root, (KAPPA * t + 16) / 116)
        self.f_slope = xp.where(cube, 1 / (3 * root * root), KAPPA / 116)
        fx, fy, fz = f[:, 0], f[:, 1], f[:, 2]
        return xp.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=1)

    def backward(self, grad_output):
        xp = get_array_module(grad_output)
        g_l, g_a, g_b = grad_output[:, 0], grad_output[:, 1], grad_output[:, 2]
        g_f = xp.stack([500 * g_a, 116 * g_l - 500 * g_a + 200 * g_b, -200 * g_b], axis=1)
        g_t = g_f * self.f_slope
        matrix = xp.asarray(_XYZ_MATRIX, dtype=g_t.dtype)
        return xp.einsum("jc,njhw->nchw", matrix, g_t) * self.linear_slope


def default_chain() -> list[Module]:
    """Brightness, contrast, saturation, gamma and a tone curve, each starting at the identity
    (the tone curve at a nearly straight strength)."""
    return [Brightness(1.0), Contrast(1.0), Saturation(1.0), Gamma(1.0), ToneCurve(0.1, 0.5)]
