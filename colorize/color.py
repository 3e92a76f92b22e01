"""CIE Lab colour for the colorizer: the exact conversions live in :mod:`enhance.colorspace`.

The network predicts a and b from L; these are the functions that split a
photo into L, a, b and put it back together.
"""
from enhance.colorspace import EPSILON, KAPPA, RGB_TO_XYZ, WHITE_D65, XYZ_TO_RGB, lab_to_rgb, lightness, rgb_to_lab

__all__ = ["EPSILON", "KAPPA", "RGB_TO_XYZ", "WHITE_D65", "XYZ_TO_RGB", "lab_to_rgb", "lightness", "rgb_to_lab"]
