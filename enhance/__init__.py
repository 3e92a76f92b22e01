"""enhance: classic image enhancements on plain arrays, and image file I/O."""
from .io import ImageError, find_images, read_image, write_image

__all__ = ["ImageError", "find_images", "read_image", "write_image"]
