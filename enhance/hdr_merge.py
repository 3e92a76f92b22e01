"""Multi-exposure HDR: camera response recovery, radiance merges, exposure fusion, tone mapping.

A bracket is several photos of one scene at different exposure times.  With
the camera's response f (pixel value z = f(E t) for radiance E and time t):

* ``calibrate_debevec`` recovers g = ln f⁻¹ by least squares (Debevec & Malik 1997);
  ``calibrate_robertson`` by alternating estimates (Robertson et al. 2003).
* ``merge_debevec`` / ``merge_robertson`` average the per-exposure estimates
  of E, trusting mid-range pixels most, into a float32 radiance map.
* ``merge_mertens`` skips radiance altogether and blends the exposures with
  weights for contrast, saturation and well-exposedness in a Laplacian pyramid
  (Mertens et al. 2007).
* ``tonemap*`` squeeze a radiance map back into [0, 1] for display.

Images are uint8, ``(H, W)`` or ``(H, W, 3)`` with channels in RGB order, as
everywhere in this library.  Where a gray is needed (fusion contrast, tone
mapping) it is Rec. 601 luma, 0.299 R + 0.587 G + 0.114 B.  OpenCV's photo
module computes the same expression on channels 0, 1, 2 — it reads channel 0
as red although its own images are BGR — so the reference tests give OpenCV
the RGB array as it stands (tests/enhance/test_hdr_merge.py shows both facts).
"""
from __future__ import annotations

import math

import numpy as np

from nnscratch.backend import get_array_module

from .filters import reflect_101
from .point import fma32

LEVELS = 256


# --- input checks and shared pieces ------------------------------------------------------------

def check_bracket(images, times=None):
    """Validate a bracket: at least two uint8 images of one shape, and one positive time each."""
    images = list(images)
    if len(images) < 2:
        raise ValueError(f"an exposure bracket needs at least two images, got {len(images)}")
    first = images[0]
    for index, image in enumerate(images):
        if not hasattr(image, "dtype") or image.dtype != np.uint8:
            raise TypeError(f"bracket image {index} must be uint8, got {getattr(image, 'dtype', type(image).__name__)}")
        if image.shape != first.shape:
            raise ValueError(f"bracket images must share one shape: image 0 is {first.shape}, image {index} is {image.shape}")
    if first.ndim not in (2, 3) or (first.ndim == 3 and first.shape[2] not in (1, 3)):
        raise ValueError(f"bracket images must be (H, W) or (H, W, 3), got {first.shape}")
    if times is None:
        return images, None
    times = np.asarray(times, dtype=np.float64).ravel()
    if times.size != len(images):
        raise ValueError(f"need one exposure time per image: {len(images)} images, {times.size} times")
    if not (np.isfinite(times).all() and (times > 0).all()):
        raise ValueError(f"exposure times must be positive numbers, got {times.tolist()}")
    return images, times


def _channels_last(image):
    return image[..., None] if image.ndim == 2 else image


def triangle_weights() -> np.ndarray:
    """OpenCV's hat weights over 0..255: ``z`` below 128, ``255 - z`` above, 1e-6 at both ends."""
    z = np.arange(LEVELS, dtype=np.float32)
    weights = np.where(z < LEVELS // 2, z, LEVELS - 1 - z).astype(np.float32)
    weights[0] = weights[-1] = np.float32(1e-6)
    return weights


def robertson_weights() -> np.ndarray:
    """Robertson's Gaussian-like weights ``scale * exp(-(z / q - 2)²) + shift`` with q = 255/4."""
    q = np.float32((LEVELS - 1) / 4.0)
    e4 = np.float32(math.exp(4.0))
    scale, shift = e4 / (e4 - np.float32(1)), np.float32(1) / (np.float32(1) - e4)
    value = np.arange(LEVELS, dtype=np.float32) / q - np.float32(2)
    return (scale * np.exp(-value * value) + shift).astype(np.float32)


def linear_response(channels: int) -> np.ndarray:
    """The identity response f(z) = z, shape (256, channels)."""
    return np.repeat(np.arange(LEVELS, dtype=np.float32)[:, None], channels, axis=1)


def _check_response(response, channels, positive=True):
    response = np.asarray(response, dtype=np.float32)
    if response.ndim == 1:
        response = response[:, None]
    if response.shape != (LEVELS, channels):
        raise ValueError(f"a response must have shape (256, {channels}), got {response.shape}")
    if not (np.isfinite(response).all() and ((response > 0) if positive else (response >= 0)).all()):
        raise ValueError(f"a response must be finite and {'positive' if positive else 'non-negative'}")
    return response


# --- calibration ----------------------------------------------------------------------------------

def grid_points(height: int, width: int, samples: int) -> list[tuple[int, int]]:
    """OpenCV's sample grid: about ``samples`` (y, x) points spread evenly, first half a step in."""
    x_points = int(math.sqrt(samples * width / height))
    if not 0 < x_points <= width:
        raise ValueError(f"cannot place {samples} sample points on a {width}x{height} image")
    y_points = samples // x_points
    if not 0 < y_points <= height:
        raise ValueError(f"cannot place {samples} sample points on a {width}x{height} image")
    step_x, step_y = width // x_points, height // y_points
    return [(y, x) for x in range(step_x // 2, step_x // 2 + step_x * x_points, step_x)
            for y in range(step_y // 2, step_y // 2 + step_y * y_points, step_y) if x < width and y < height]


def calibrate_debevec(images, times, samples: int = 70, smoothness: float = 10.0) -> np.ndarray:
    """Recover the camera response (Debevec & Malik): float32 (256, channels), f(128) = 1.

    For sample pixels i and exposures j, with w the hat weights, the least-squares system

        w(z_ij) [g(z_ij) - ln E_i] = w(z_ij) ln t_j           (data)
        g(128) = 0                                             (scale)
        smoothness w(z) [g(z-1) - 2 g(z) + g(z+1)] = 0          (smooth curve)

    is solved for g and ln E; the response is exp(g).
    """
    images, times = check_bracket(images, times)
    if samples < 1 or not smoothness >= 0:
        raise ValueError(f"samples must be >= 1 and smoothness >= 0, got {samples} and {smoothness}")
    stack = np.stack([_channels_last(np.asarray(image)) for image in images])      # (J, H, W, C)
    _, height, width, channels = stack.shape
    points = grid_points(height, width, samples)
    weights = triangle_weights().astype(np.float64)
    log_times = np.log(times)
    n_points, n_images = len(points), len(images)
    rows_y = np.array([p[0] for p in points])
    rows_x = np.array([p[1] for p in points])
    responses = []
    for channel in range(channels):
        values = stack[:, rows_y, rows_x, channel].T                               # (points, images)
        system = np.zeros((n_points * n_images + LEVELS + 1, LEVELS + n_points))
        target = np.zeros(system.shape[0])
        equation = np.arange(n_points * n_images)
        z = values.ravel()
        w = weights[z]
        system[equation, z] = w
        system[equation, LEVELS + np.repeat(np.arange(n_points), n_images)] = -w
        target[equation] = w * np.tile(log_times, n_points)
        row = n_points * n_images
        system[row, LEVELS // 2] = 1
        smooth_rows = row + 1 + np.arange(LEVELS - 2)
        level = np.arange(LEVELS - 2)
        for offset, factor in ((0, 1.0), (1, -2.0), (2, 1.0)):
            system[smooth_rows, level + offset] = factor * smoothness * weights[level + 1]
        solution = np.linalg.lstsq(system, target, rcond=None)[0]
        responses.append(np.exp(solution[:LEVELS]))
    return np.stack(responses, axis=1).astype(np.float32)


def calibrate_robertson(images, times, max_iter: int = 30, threshold: float = 0.01) -> np.ndarray:
    """Recover the camera response by Robertson's alternation: float32 (256, channels), f(128) = 1.

    Starting from f(z) = z / 128, alternately merge the radiance E with the
    current f and set f(z) to the mean of ``t_j E`` over every pixel with value z,
    until the response changes by less than ``threshold`` (summed over levels).
    """
    images, times = check_bracket(images, times)
    stack = np.stack([_channels_last(np.asarray(image)) for image in images])
    channels = stack.shape[3]
    response = linear_response(channels) / np.float32(LEVELS / 2)
    counts = np.stack([np.bincount(stack[..., c].ravel(), minlength=LEVELS) for c in range(channels)], axis=1)
    counts = np.where(counts > 0, counts, np.inf)
    for _ in range(max_iter):
        radiance = merge_robertson(images, times, response)
        radiance = _channels_last(radiance)
        new_response = np.stack([
            sum(np.bincount(stack[j, ..., c].ravel(), weights=(times[j] * radiance[..., c]).ravel(), minlength=LEVELS)
                for j in range(len(images)))
            for c in range(channels)], axis=1) / counts
        for c in range(channels):  # levels that never occur: interpolate (OpenCV leaves NaN there)
            seen = np.isfinite(counts[:, c])
            new_response[~seen, c] = np.interp(np.flatnonzero(~seen), np.flatnonzero(seen), new_response[seen, c])
        new_response = (new_response / new_response[LEVELS // 2]).astype(np.float32)
        change = np.abs(new_response - response).sum() / channels
        response = new_response
        if change < threshold:
            break
    return response


# --- radiance merges --------------------------------------------------------------------------------

def merge_debevec(images, times, response=None) -> np.ndarray:
    """Radiance map (float32, the images' shape) by weighted averaging of log radiance.

    ``ln E = sum_j w_j (ln f(z_j) - ln t_j) / sum_j w_j`` with ``w_j`` the mean
    over channels of the hat weight of each channel's value.  Without a response,
    f(z) = z (with f(0) = f(1), so that black does not give ln 0).
    """
    images, times = check_bracket(images, times)
    channels = 1 if images[0].ndim == 2 else images[0].shape[2]
    if response is None:
        response = linear_response(channels)
        response[0] = response[1]
    response = _check_response(response, channels)
    xp = get_array_module(images[0])
    log_response = xp.asarray(np.log(response))
    hat = xp.asarray(triangle_weights() / np.float32(channels))
    log_times = np.log(times.astype(np.float32))
    shape = _channels_last(images[0]).shape
    total = xp.zeros(shape, dtype=np.float32)
    weight_sum = xp.zeros(shape[:2], dtype=np.float32)
    for image, log_time in zip(images, log_times):
        values = _channels_last(image)
        weight = hat[values].sum(axis=-1)
        for c in range(channels):
            total[..., c] += weight * (log_response[values[..., c], c] - np.float32(log_time))
        weight_sum += weight
    radiance = xp.exp(total * (np.float32(1) / weight_sum)[..., None])
    return radiance[..., 0] if images[0].ndim == 2 else radiance


def merge_robertson(images, times, response=None) -> np.ndarray:
    """Radiance map (float32) by Robertson's maximum-likelihood average:
    ``E = sum_j w(z_j) t_j f(z_j) / sum_j w(z_j) t_j²`` (f(z) = z / 128 by default)."""
    images, times = check_bracket(images, times)
    channels = 1 if images[0].ndim == 2 else images[0].shape[2]
    response = linear_response(channels) / np.float32(LEVELS / 2) if response is None else response
    response = _check_response(response, channels, positive=False)
    xp = get_array_module(images[0])
    weights = xp.asarray(robertson_weights())
    response = xp.asarray(response)
    shape = _channels_last(images[0]).shape
    total = xp.zeros(shape, dtype=np.float32)
    weight_sum = xp.zeros(shape, dtype=np.float32)
    for image, time in zip(images, times.astype(np.float32)):
        values = _channels_last(image)
        weight = weights[values]
        total += time * (weight * xp.take_along_axis(response, values.reshape(-1, channels).astype(np.int64), axis=0)
                         .reshape(shape))
        weight_sum += time * time * weight
    radiance = (total * (np.float32(1) / (weight_sum + np.float32(np.finfo(np.float64).eps)))).astype(np.float32)
    return radiance[..., 0] if images[0].ndim == 2 else radiance


# --- exposure fusion -------------------------------------------------------------------------------

def _filter_axis(array, taps, axis):
    """Correlate along ``axis`` with reflect-101 borders (float32)."""
    xp = get_array_module(array)
    half = len(taps) // 2
    size = array.shape[axis]
    result = None
    for offset, tap in enumerate(taps):
        index = xp.asarray(reflect_101(np.arange(size) + offset - half, size))
        term = xp.take(array, index, axis=axis) * np.float32(tap)
        result = term if result is None else result + term
    return result


def pyr_down(array):
    """OpenCV's pyrDown: blur with [1 4 6 4 1]/16 in both directions (reflect-101), keep every other pixel."""
    taps = np.array([1, 4, 6, 4, 1], dtype=np.float32) / np.float32(16)
    blurred = _filter_axis(_filter_axis(array, taps, 0), taps, 1)
    return blurred[::2, ::2]


def _up_axis(array, size, axis):
    """Double along ``axis``: even outputs (x[i-1] + 6 x[i] + x[i+1]) / 8, odd ones (x[i] + x[i+1]) / 2,
    reflect-101 at the start and replicate at the end, as OpenCV's pyrUp."""
    xp = get_array_module(array)
    n = array.shape[axis]
    previous = xp.take(array, xp.asarray(np.abs(np.arange(n) - 1) if n > 1 else np.zeros(n, int)), axis=axis)
    following = xp.take(array, xp.asarray(np.minimum(np.arange(n) + 1, n - 1)), axis=axis)
    even = (previous + array * np.float32(6) + following) * np.float32(1 / 8)
    odd = (array + following) * np.float32(0.5)
    stacked = xp.stack([even, odd], axis=axis + 1)
    new_shape = list(array.shape)
    new_shape[axis] = 2 * n
    doubled = stacked.reshape(new_shape)
    return xp.take(doubled, xp.arange(size), axis=axis)


def pyr_up(array, size):
    """OpenCV's pyrUp to ``size`` = (height, width)."""
    return _up_axis(_up_axis(array, size[0], 0), size[1], 1)


def _laplacian_abs(gray):
    """|Laplacian| with the 3x3 kernel [0 1 0; 1 -4 1; 0 1 0], reflect-101 borders, summed in
    the kernel's row-major order as OpenCV's filter does (it matters where the image is flat)."""
    xp = get_array_module(gray)
    h, w = gray.shape
    up = xp.take(gray, xp.asarray(reflect_101(np.arange(h) - 1, h)), axis=0)
    down = xp.take(gray, xp.asarray(reflect_101(np.arange(h) + 1, h)), axis=0)
    left = xp.take(gray, xp.asarray(reflect_101(np.arange(w) - 1, w)), axis=1)
    right = xp.take(gray, xp.asarray(reflect_101(np.arange(w) + 1, w)), axis=1)
    return xp.abs((((up + left) + np.float32(-4) * gray) + right) + down)


def merge_mertens(images, contrast: float = 1.0, saturation: float = 1.0, exposure: float = 0.0) -> np.ndarray:
    """Exposure fusion (Mertens et al.): float32 in about [0, 1], no radiance or times needed.

    Each exposure gets per-pixel weights ``|Laplacian(gray)| ** contrast *
    std over channels ** saturation * prod_c exp(-(c - 0.5)² / 0.08) ** exposure``
    (normalised over exposures); the images' Laplacian pyramids are blended
    with the weights' Gaussian pyramids and collapsed.  As in OpenCV the
    well-exposedness weight is off by default (``exposure=0``).
    """
    images, _ = check_bracket(images)
    xp = get_array_module(images[0])
    height, width = images[0].shape[:2]
    floats = [_channels_last(image).astype(np.float32) * np.float32(1 / 255) for image in images]
    channels = floats[0].shape[2]
    weights = []
    for image in floats:
        if channels == 3:  # OpenCV's float RGB -> gray: fma(b, 0.114, fma(r, 0.299, g * 0.587))
            gray = fma32(image[..., 2], 0.114, fma32(image[..., 0], 0.299, image[..., 1] * np.float32(0.587)))
        else:
            gray = image[..., 0]
        weight = _laplacian_abs(gray) ** np.float32(contrast)
        if channels == 3:
            mean = (image[..., 0] + image[..., 1] + image[..., 2]) * np.float32(1.0 / 3)  # as OpenCV: sum, times float32(1/3)
            spread = xp.sqrt(((image - mean[..., None]) ** 2).sum(axis=2))
            weight = weight * spread ** np.float32(saturation)
        if exposure:
            well = xp.exp(-((image - np.float32(0.5)) ** 2) / np.float32(0.08)).prod(axis=2)
            weight = weight * well ** np.float32(exposure)
        weights.append(weight + np.float32(1e-12))
    total = sum(weights)
    max_level = int(math.log(min(width, height)) / math.log(2.0))
    result = None
    for image, weight in zip(floats, weights):
        weight = weight / total
        image_pyramid, weight_pyramid = [image], [weight]
        for _ in range(max_level):
            image_pyramid.append(pyr_down(image_pyramid[-1]))
            weight_pyramid.append(pyr_down(weight_pyramid[-1]))
        for level in range(max_level):
            image_pyramid[level] = image_pyramid[level] - pyr_up(image_pyramid[level + 1], image_pyramid[level].shape[:2])
        blended = [layer * w[..., None] for layer, w in zip(image_pyramid, weight_pyramid)]
        result = blended if result is None else [r + b for r, b in zip(result, blended)]
    for level in range(max_level, 0, -1):
        result[level - 1] = result[level - 1] + pyr_up(result[level], result[level - 1].shape[:2])
    fused = result[0].astype(np.float32)
    return fused[..., 0] if images[0].ndim == 2 else fused


# --- tone mapping ----------------------------------------------------------------------------------

def _check_radiance(radiance):
    if not hasattr(radiance, "dtype") or radiance.dtype.kind != "f":
        raise TypeError("a radiance map must be a float array")
    if radiance.ndim != 3 or radiance.shape[2] != 3:
        raise ValueError(f"a radiance map must be (H, W, 3), got {getattr(radiance, 'shape', None)}")
    xp = get_array_module(radiance)
    if not bool(xp.isfinite(radiance).all()) or float(radiance.min()) < 0:
        raise ValueError("a radiance map must be finite and non-negative")
    return radiance.astype(np.float32)


def _gray(rgb):
    """OpenCV's float RGB -> gray, fused as it computes it: ``fma(b, 0.114, fma(r, 0.299, g * 0.587))``."""
    return fma32(rgb[..., 2], 0.114, fma32(rgb[..., 0], 0.299, rgb[..., 1] * np.float32(0.587)))


def _safe_log(values):
    xp = get_array_module(values)
    return xp.log(xp.maximum(values, np.float32(1e-4)))


def tonemap(radiance, gamma: float = 1.0) -> np.ndarray:
    """Scale to [0, 1] by the map's minimum and maximum, then apply ``x ** (1 / gamma)`` (``cv2.createTonemap``).

    Values are first raised to at least 1e-6, so the result is never NaN.
    """
    radiance = _check_radiance(radiance)
    if not gamma > 0:
        raise ValueError(f"gamma must be positive, got {gamma}")
    xp = get_array_module(radiance)
    radiance = xp.maximum(radiance, np.float32(1e-6))
    low, high = float(radiance.min()), float(radiance.max())
    scaled = ((radiance - np.float32(low)) / np.float32(high - low)) if high - low > np.finfo(np.float64).eps else radiance
    return xp.clip(scaled, 0, 1) ** np.float32(1.0 / gamma)


def tonemap_reinhard(radiance, gamma: float = 1.0, intensity: float = 0.0, light_adapt: float = 1.0,
                     color_adapt: float = 0.0) -> np.ndarray:
    """Reinhard & Devlin's photoreceptor model (``cv2.createTonemapReinhard``).

    ``C' = C / (C + (f * I_a) ** m)`` with the adaptation level ``I_a`` mixed from
    pixel and global, gray and colour (``light_adapt``, ``color_adapt``),
    ``f = exp(-intensity)`` and the contrast ``m = 0.3 + 0.7 k ** 1.4`` from the
    log-luminance key ``k``; then :func:`tonemap` with ``gamma``.
    """
    radiance = tonemap(radiance)          # OpenCV normalises first
    xp = get_array_module(radiance)
    gray = _gray(radiance)
    log_gray = _safe_log(gray)
    log_mean = float(log_gray.astype(np.float64).mean())
    log_min, log_max = float(log_gray.min()), float(log_gray.max())
    key = (log_max - log_mean) / (log_max - log_min) if log_max > log_min else 0.0
    contrast = np.float32(0.3) + np.float32(0.7) * np.float32(key) ** np.float32(1.4)
    factor = np.float32(math.exp(-intensity))
    channel_means = radiance.astype(np.float64).mean(axis=(0, 1))
    gray_mean = float(gray.astype(np.float64).mean())
    out = xp.empty_like(radiance)
    for c in range(3):
        channel = radiance[..., c]
        global_level = np.float32(color_adapt * channel_means[c] + (1 - color_adapt) * gray_mean)
        adapt = np.float32(color_adapt) * channel + np.float32(1 - color_adapt) * gray
        adapt = np.float32(light_adapt) * adapt + np.float32(1 - light_adapt) * global_level
        adapt = (factor * adapt) ** contrast
        denominator = adapt + channel
        out[..., c] = xp.where(denominator > 0, channel / xp.where(denominator > 0, denominator, 1), 0)
    return tonemap(out, gamma)


def tonemap_drago(radiance, gamma: float = 1.0, saturation: float = 1.0, bias: float = 0.85) -> np.ndarray:
    """Drago et al.'s adaptive logarithmic mapping (``cv2.createTonemapDrago``).

    Luminance L (divided by its log-average) maps to
    ``log(1 + L) / log(2 + 8 (L / L_max) ** (log bias / log 0.5))``; colours
    follow as ``(C / L) ** saturation * L_new``; then :func:`tonemap` with ``gamma``.
    """
    if not 0 < bias < 1:
        raise ValueError(f"bias must lie in (0, 1), got {bias}")
    radiance = tonemap(radiance)          # OpenCV normalises first
    xp = get_array_module(radiance)
    gray = _gray(radiance)
    mean = np.float32(math.exp(float(_safe_log(gray).astype(np.float64).mean())))
    gray = gray / mean
    maximum = float(gray.max())
    if maximum <= 0:
        raise ValueError("a radiance map must not be all black")
    mapped = xp.log(gray + np.float32(1))
    divisor = xp.log(np.float32(2) + np.float32(8) * (gray / np.float32(maximum)) ** np.float32(math.log(bias) / math.log(0.5)))
    mapped = mapped / divisor
    safe_gray = xp.where(gray > 0, gray, 1)
    out = xp.stack([xp.where(gray > 0, (radiance[..., c] / safe_gray) ** np.float32(saturation), 0) * mapped
                    for c in range(3)], axis=-1).astype(np.float32)
    return tonemap(out, gamma)


def _resize_linear(array, height: int, width: int):
    """Bilinear resize of a 2-D float32 array with half-pixel centres, as ``cv2.resize(INTER_LINEAR)``
    computes it for floats (source positions clamped to the edge pixels)."""
    xp = get_array_module(array)

    def plan(source, target):
        position = (np.arange(target) + 0.5) * (source / target) - 0.5
        first = np.floor(position).astype(np.int64)
        weight = (position - first).astype(np.float32)
        weight[first < 0] = 0
        first[first < 0] = 0
        last = first >= source - 1
        weight[last] = 0
        first[last] = source - 1
        return xp.asarray(first), xp.asarray(np.minimum(first + 1, source - 1)), xp.asarray(weight)

    top, bottom, wy = plan(array.shape[0], height)
    left, right, wx = plan(array.shape[1], width)
    rows = array[top] * (np.float32(1) - wy)[:, None] + array[bottom] * wy[:, None]
    return rows[:, left] * (np.float32(1) - wx) + rows[:, right] * wx


def _gradient(array, leading_copy: bool):
    """Forward differences along columns; the first column is the source (``leading_copy``)
    or the last is zero, as OpenCV's Mantiuk code arranges them."""
    xp = get_array_module(array)
    out = xp.zeros_like(array)
    difference = array[:, 1:] - array[:, :-1]
    if leading_copy:
        out[:, 1:] = difference
        out[:, 0] = array[:, 0]
    else:
        out[:, :-1] = difference
    return out


def _contrast_pyramid(array):
    levels = int(math.log(min(array.shape)) / math.log(2.0))
    x_contrast, y_contrast, layer = [], [], array
    for _ in range(levels):
        x_contrast.append(_gradient(layer, False))
        y_contrast.append(_gradient(layer.T, False))
        layer = _resize_linear(layer, layer.shape[0] // 2, layer.shape[1] // 2)
    return x_contrast, y_contrast


def _divergence_sum(x_contrast, y_contrast):
    total = get_array_module(x_contrast[-1]).zeros_like(x_contrast[-1])
    for x_part, y_part in zip(reversed(x_contrast), reversed(y_contrast)):
        total = _resize_linear(total, *x_part.shape)
        total = total + (_gradient(x_part, True) + _gradient(y_part, True).T)
    return total


def tonemap_mantiuk(radiance, gamma: float = 1.0, scale: float = 0.7, saturation: float = 1.0) -> np.ndarray:
    """Mantiuk et al.'s contrast-domain mapping (``cv2.createTonemapMantiuk``).

    Log-luminance contrasts on a pyramid are compressed
    (``c -> sign(c) (scale |c|^0.4185)^(1/0.4185)``) and the luminance that best
    has them is found by conjugate gradients; colours follow as in Drago's method.
    """
    radiance = tonemap(radiance)          # OpenCV normalises first
    xp = get_array_module(radiance)
    gray = _gray(radiance)
    log_gray = _safe_log(gray)
    if min(log_gray.shape) < 2:
        raise ValueError("tone mapping by Mantiuk's method needs an image of at least 2x2 pixels")
    power = np.float32(0.4185)

    def compress(contrast):
        sign = xp.where(contrast > 0, np.float32(1), np.float32(-1))
        squeezed = xp.abs(contrast) ** power * sign * np.float32(scale)
        return xp.abs(squeezed) ** (np.float32(1) / power) * xp.where(squeezed > 0, np.float32(1), np.float32(-1))

    x_contrast, y_contrast = _contrast_pyramid(log_gray)
    right = _divergence_sum([compress(c) for c in x_contrast], [compress(c) for c in y_contrast])

    def product(values):
        return _divergence_sum(*_contrast_pyramid(values))

    solution = log_gray.copy()
    residual = right - product(solution)
    direction = residual.copy()
    target = float((right.astype(np.float64) ** 2).sum()) * 1e-6
    rr = float((residual.astype(np.float64) ** 2).sum())
    for _ in range(100):
        applied = product(direction)
        curvature = float((direction.astype(np.float64) * applied).sum())
        if curvature == 0 or rr == 0:
            break
        alpha = np.float32(rr / curvature)
        residual = residual - alpha * applied
        solution = solution + alpha * direction
        new_rr = float((residual.astype(np.float64) ** 2).sum())
        direction = residual + np.float32(new_rr / rr) * direction
        rr = new_rr
        if rr < target:
            break
    luminance = xp.exp(solution)
    safe_gray = xp.where(gray > 0, gray, 1)
    out = xp.stack([xp.where(gray > 0, (radiance[..., c] / safe_gray) ** np.float32(saturation), 0) * luminance
                    for c in range(3)], axis=-1).astype(np.float32)
    return tonemap(out, gamma)
