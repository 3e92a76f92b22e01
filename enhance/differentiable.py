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
    the local-contrast look of "HDR" tone mapping.  Every partial derivative is ``s' = s (1 - s)``
    times the inner derivative, through the quotient rule.
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


def default_chain() -> list[Module]:
    """Brightness, contrast, saturation, gamma and a tone curve, each starting at the identity
    (the tone curve at a nearly straight strength)."""
    return [Brightness(1.0), Contrast(1.0), Saturation(1.0), Gamma(1.0), ToneCurve(0.1, 0.5)]


def fit_enhancement(image, target, chain: list[Module] | None = None, steps: int = 300, lr: float = 0.02,
                    size: int = 128) -> tuple[list[Module], list[float]]:
    """Fit a chain of enhancement layers by backpropagation so that ``chain(image)`` matches ``target``.

    ``image`` and ``target`` are float RGB ``(H, W, 3)`` arrays in [0, 1] of one scene (for example
    a photo and an edited copy of it); both are taken at most ``size`` pixels on the long side by
    striding, and the loss is the mean squared difference.  Adam (the engine's) at ``lr``.
    Returns the fitted chain and the loss at every step; apply the parameters to the full image
    with the plain ``enhance`` functions.
    """
    from nnscratch.losses import MSELoss
    from nnscratch.module import Sequential
    from nnscratch.optim import Adam

    image, target = np.asarray(image, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if image.shape != target.shape or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image and target must be float RGB (H, W, 3) of one shape, got {image.shape} and "
                         f"{target.shape}")
    step = max(1, -(-max(image.shape[:2]) // size))
    x = image[::step, ::step].transpose(2, 0, 1)[None]
    y = target[::step, ::step].transpose(2, 0, 1)[None]
    model = Sequential(*(chain if chain is not None else default_chain())).double()
    optimizer = Adam(model.parameters(), lr=lr)
    criterion = MSELoss()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        losses.append(criterion.forward(model.forward(x), y))
        model.backward(criterion.backward())
        optimizer.step()
    return list(model), losses
