"""CIE L*a*b* (D65) from and to sRGB, array-generic (NumPy or CuPy), float32 or float64.

Used by the colorizer and by the HDR detail enhancement.

The exact CIE formulas:

    linear = c / 12.92                      if c <= 0.04045
             ((c + 0.055) / 1.055) ** 2.4   otherwise
    (X, Y, Z) = M · linear / white          M: sRGB -> XYZ, white D65 = (0.95047, 1, 1.08883)
    f(t) = t ** (1/3)                       if t > (6/29)³ = 216/24389
           (24389/27 · t + 16) / 116        otherwise
    L = 116 f(Y) - 16,  a = 500 (f(X) - f(Y)),  b = 200 (f(Y) - f(Z))

L lies in [0, 100]; for sRGB colours a lies in about [-86, 98] and b in about [-108, 94].
"""
from __future__ import annotations

import numpy as np

from nnscratch.backend import get_array_module

RGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423],
                       [0.212671, 0.715160, 0.072169],
                       [0.019334, 0.119193, 0.950227]])
XYZ_TO_RGB = np.linalg.inv(RGB_TO_XYZ)
WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
EPSILON = 216 / 24389      # (6/29)³: where f switches from linear to cube root
KAPPA = 24389 / 27         # slope of the linear part, (29/3)³


def _check(array, name: str):
    if not hasattr(array, "dtype") or array.dtype.kind != "f":
        raise TypeError(f"{name} expects a floating-point array (float32 or float64), "
                        f"got {getattr(array, 'dtype', type(array).__name__)}")
    if array.ndim < 1 or array.shape[-1] != 3:
        raise ValueError(f"{name} expects 3 channels on the last axis, got shape {tuple(array.shape)}")


def _matrix(xp, matrix, dtype):
    return xp.asarray(matrix.astype(dtype))


def _power(values, exponent: float):
    """``values ** exponent`` for positive values as ``exp(exponent * log(values))``: numpy's exp and
    log run vectorised, its pow and cbrt do not (2.2x faster than cbrt and 1.4x than pow on 36M
    float32 values here, within 7e-7 relative)."""
    xp = get_array_module(values)
    return xp.exp(xp.log(values) * exponent)


def srgb_to_linear(rgb):
    """sRGB values in [0, 1] (any shape, float) -> linear light, same dtype."""
    xp = get_array_module(rgb)
    return xp.where(rgb <= 0.04045, rgb / 12.92, _power((xp.maximum(rgb, 0.04045) + 0.055) / 1.055, 2.4))


def linear_to_lab(linear):
    """Linear-light RGB, shape (..., 3) -> Lab, same shape and dtype."""
    xp = get_array_module(linear)
    dtype = linear.dtype
    xyz = linear @ _matrix(xp, (RGB_TO_XYZ / WHITE_D65[:, None]).T, dtype)
    f = xp.where(xyz > EPSILON, _power(xp.maximum(xyz, EPSILON), 1 / 3), (KAPPA * xyz + 16) / 116)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return xp.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=-1).astype(dtype, copy=False)


def linear_lightness(linear):
    """CIE L of linear-light RGB, shape (..., 3) -> (...): ``linear_to_lab(linear)[..., 0]`` bit for bit,
    without computing a and b."""
    xp = get_array_module(linear)
    y = (linear @ _matrix(xp, (RGB_TO_XYZ / WHITE_D65[:, None]).T, linear.dtype))[..., 1]
    f = xp.where(y > EPSILON, _power(xp.maximum(y, EPSILON), 1 / 3), (KAPPA * y + 16) / 116)
    return (116 * f - 16).astype(linear.dtype, copy=False)


def rgb_to_lab(rgb):
    """sRGB in [0, 1], shape (..., 3) -> Lab, same shape and dtype."""
    _check(rgb, "rgb_to_lab")
    return linear_to_lab(srgb_to_linear(rgb))


def lab_to_rgb(lab, clip: bool = True):
    """Lab, shape (..., 3) -> sRGB, same shape and dtype; clipped to [0, 1] unless ``clip=False``."""
    _check(lab, "lab_to_rgb")
    xp = get_array_module(lab)
    dtype = lab.dtype
    fy = (lab[..., 0] + 16) / 116
    f = xp.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    xyz = xp.where(f > 6 / 29, f * f * f, (116 * f - 16) / KAPPA)
    linear = xyz @ _matrix(xp, (XYZ_TO_RGB * WHITE_D65[None, :]).T, dtype)
    rgb = xp.where(linear <= 0.0031308, 12.92 * linear,
                   1.055 * _power(xp.maximum(linear, 0.0031308), 1 / 2.4) - 0.055)
    if clip:
        rgb = xp.clip(rgb, 0, 1)
    return rgb.astype(dtype, copy=False)


def lightness(gray):
    """CIE L of a gray sRGB level in [0, 1] (array of any shape): L = 116 f(Y) - 16 with Y = linear(gray)."""
    xp = get_array_module(gray)
    linear = srgb_to_linear(gray)
    f = xp.where(linear > EPSILON, _power(xp.maximum(linear, EPSILON), 1 / 3), (KAPPA * linear + 16) / 116)
    return (116 * f - 16).astype(gray.dtype, copy=False)
