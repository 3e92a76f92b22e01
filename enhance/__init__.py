"""enhance: classic image enhancements on plain arrays, and image file I/O.

Every operation is a function ``f(image, ...) -> image`` of the same shape
and dtype (uint8, uint16, or float in [0, 1]; gray, gray+alpha, RGB or RGBA,
alpha passed through), written with array operations only and matched to
OpenCV, Pillow or scikit-image (see each docstring for the reference).
"""
from . import hdr_merge
from .image import check_float_range
from .color import channel_stats, histogram_figure, rgb
from .colorspace import lab_to_rgb, rgb_to_lab
from .filters import gaussian_blur, sharpness, unsharp_mask
from .detail import hdr
from .histogram import clahe, equalize_hist
from .io import ImageError, find_images, read_image, write_image
from .hdr_merge import (calibrate_debevec, calibrate_robertson, merge_debevec, merge_mertens, merge_robertson,
                       tonemap, tonemap_drago, tonemap_mantiuk, tonemap_reinhard)
from .point import autocontrast, brightness, contrast, gamma, invert, log_transform, saturation, scale_abs

__all__ = [
    "ImageError", "autocontrast", "brightness", "calibrate_debevec", "calibrate_robertson", "channel_stats",
    "check_float_range", "clahe", "contrast", "equalize_hist", "hdr_merge", "find_images", "gamma",
    "gaussian_blur", "hdr", "histogram_figure", "invert", "lab_to_rgb", "log_transform", "merge_debevec",
    "merge_mertens", "merge_robertson", "read_image", "rgb", "rgb_to_lab", "saturation", "scale_abs",
    "sharpness", "tonemap", "tonemap_drago", "tonemap_mantiuk", "tonemap_reinhard", "unsharp_mask",
    "write_image",
]
