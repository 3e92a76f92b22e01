"""Reading and writing image files as plain arrays, through Pillow.

Arrays are ``(H, W)`` for gray and ``(H, W, C)`` otherwise, channels last:

=============================  ======================  ===========
file mode                      array                   dtype
=============================  ======================  ===========
1, L                           (H, W)                  uint8
LA                             (H, W, 2)               uint8
RGB, CMYK, YCbCr, LAB, HSV     (H, W, 3) as RGB        uint8
RGBA, P with transparency, PA  (H, W, 4)               uint8
P without transparency         (H, W, 3)               uint8
I;16 (16-bit gray)             (H, W)                  uint16
16-bit RGB, RGBA (PNG, TIFF)   (H, W, 3|4)             uint16
I (32-bit int)                 (H, W)                  uint16 if it fits, else int32
F (32-bit float)               (H, W)                  float32
=============================  ======================  ===========

The EXIF orientation tag is applied, so arrays are the right way up.
Writing picks the format from the file extension and goes through a
temporary file renamed into place, so a failed write never leaves half a file.

Pillow holds at most 8 bits per colour channel, so 16-bit RGB and RGBA PNG
and TIFF files are decoded and encoded with ``imagecodecs`` (libpng; and
for TIFF, through ``tifffile``, every compression libtiff knows) — bit for
bit.  Both come with the ``16bit`` extra.  Without
it they are read and written as 8-bit, with a warning that says so.
"""
from __future__ import annotations

import io
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from nnscratch.serialize import write_atomically  # the one atomic writer, shared with checkpoints

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


class ImageError(ValueError):
    """An image file that cannot be read or an array that cannot be written."""


def _to_array_mode(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in ("L", "LA", "RGB", "RGBA", "I;16", "F"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        return image.convert("RGBA" if has_alpha else "RGB")
    if mode in ("I;16B", "I;16L", "I;16N"):
        return image.convert("I;16") if mode != "I;16" else image
    if mode == "I":
        return image
    if mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX", "RGBa"):
        return image.convert("RGB")
    if mode == "La":
        return image.convert("LA")
    return image.convert("RGBA" if "A" in mode else "RGB")


class PrecisionWarning(UserWarning):
    """16-bit colour read or written as 8-bit because the 16-bit codec is not installed."""


_SIXTEEN_BIT_HINT = "install the 16bit extra (pip install imagecodecs tifffile) to keep 16 bits"


def _sixteen_bit_codecs():
    """``(imagecodecs, tifffile)``, or None when the ``16bit`` extra is not installed."""
    try:
        import imagecodecs
        import tifffile
    except ImportError:
        return None
    return imagecodecs, tifffile


def _is_16bit_colour(source, image: Image.Image) -> bool:
    """Whether the file stores 16-bit colour channels that Pillow would cut to 8 bits."""
    if image.mode not in ("RGB", "RGBA"):
        return False
    if image.format == "PNG":
        if isinstance(source, io.BytesIO):     # signature (8), IHDR length+type (8), width, height, depth, colour
            header = source.getbuffer()[:26].tobytes()
        else:
            with open(source, "rb") as handle:
                header = handle.read(26)
        return len(header) == 26 and header[24] == 16
    if image.format == "TIFF":
        bits = image.tag_v2.get(258)
        bits = bits if isinstance(bits, tuple) else (bits,)
        return all(b == 16 for b in bits)
    return False


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF/TIFF orientation (1-8) to an (H, W, C) array, as ``ImageOps.exif_transpose`` does."""
    steps = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
             5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1), 7: lambda a: np.rot90(a, 1)[::-1],
             8: lambda a: np.rot90(a, 1)}
    return steps[orientation](array) if orientation in steps else array


def _data(source) -> bytes:
    """The bytes of a file path or of an in-memory image (BytesIO)."""
    return source.getvalue() if isinstance(source, io.BytesIO) else Path(source).read_bytes()


def _read_16bit_colour(path, source, image: Image.Image) -> np.ndarray | None:
    """16-bit RGB(A) from ``source`` (a path or BytesIO); ``path`` names it in messages."""
    codecs = _sixteen_bit_codecs()
    if codecs is None:
        warnings.warn(f"{path}: 16-bit colour read as 8 bits; {_SIXTEEN_BIT_HINT}", PrecisionWarning, stacklevel=3)
        return None
    imagecodecs, tifffile = codecs
    try:
        data = _data(source)
        array = (imagecodecs.png_decode(data) if image.format == "PNG" else tifffile.imread(io.BytesIO(data), key=0))
    except Exception as error:   # the codecs' own error types
        raise ImageError(f"{path} is truncated or corrupt ({error})") from None
    if array.ndim != 3 or array.shape[2] not in (3, 4) or array.dtype != np.uint16:
        raise ImageError(f"{path}: unexpected 16-bit layout {array.shape} {array.dtype}")
    return _orient(array, image.getexif().get(0x0112, 1))


def read_image(path) -> np.ndarray:
    """Read an image file into an array (see the module docstring for shapes and dtypes).

    ``path`` is a file path, or the image's bytes (``bytes`` or a binary file
    object such as an upload), which are decoded in memory and never written
    anywhere.  Raises ``FileNotFoundError`` for a missing file and
    :class:`ImageError` (a ``ValueError``) for a file that is not an image, is
    empty, truncated or corrupt, or is so large that Pillow's
    decompression-bomb guard refuses it.
    """
    path, source = _image_source(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            array = _decode(path, source)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{path} is too large to open safely: images above {Image.MAX_IMAGE_PIXELS:,} "
                         "pixels are refused") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path} is not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError(f"{path} is truncated or corrupt ({error})") from None
    if array.size == 0:
        raise ImageError(f"{path} has no pixels")
    if array.dtype == np.int32:  # mode I: usually 16-bit data held in 32 bits
        if array.min() >= 0 and array.max() <= 65535:
            array = array.astype(np.uint16)
    elif array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("="))
    return np.ascontiguousarray(array)


def _image_source(path):
    """``(name for messages, what Pillow opens)`` for a path or the image's bytes; the errors of an
    absent, empty or folder path."""
    if isinstance(path, (bytes, bytearray)) or hasattr(path, "read"):
        name = getattr(path, "filename", None) or getattr(path, "name", None) or "the image data"
        data = bytes(path) if isinstance(path, (bytes, bytearray)) else path.read()
        label = repr(str(name)) if name != "the image data" else name
        if not data:
            raise ImageError(f"{label} is empty (0 bytes)")
        return label, io.BytesIO(data)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path} is empty (0 bytes)")
    return path, path


def _decode(path, source) -> np.ndarray:
    """Pillow's decoding of ``source`` (16-bit colour through the 16bit extra, EXIF orientation applied)."""
    with Image.open(source) as image:
        if image.width * image.height > 0 and _is_16bit_colour(source, image):
            array = _read_16bit_colour(path, source, image)
            if array is not None:
                return array
        image.load()
        image = ImageOps.exif_transpose(image) or image
        return np.asarray(_to_array_mode(image))


_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP",
            ".tif": "TIFF", ".tiff": "TIFF"}
_NO_ALPHA = ("JPEG", "BMP")


def to_uint8(array: np.ndarray) -> np.ndarray:
    """Any supported image array as uint8: floats in [0, 1] are scaled by 255,
    rounded half to even and clipped; uint16 is scaled by 255/65535 and rounded."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return np.rint(array * (255 / 65535)).astype(np.uint8)
    if array.dtype.kind == "f":
        return np.clip(np.rint(array * 255), 0, 255).astype(np.uint8)
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    raise ImageError(f"cannot convert an array of dtype {array.dtype} to an 8-bit image")


@dataclass(frozen=True)
class PhotoMetadata:
    """What a photo carries besides its pixels: EXIF (bytes, orientation reset) and an ICC profile."""

    exif: bytes | None = None
    icc_profile: bytes | None = None


_EXIF_IFD, _GPS_IFD, _ORIENTATION = 0x8769, 0x8825, 0x0112


def read_metadata(path: str | os.PathLike, keep_gps: bool = False) -> PhotoMetadata:
    """A photo's EXIF and ICC profile, to hand to :func:`write_image` for its result.

    The orientation tag is reset to 1 (``read_image`` has already turned the
    pixels upright); the GPS block is dropped unless ``keep_gps``.  A file
    without them, or that Pillow cannot read, gives empty metadata.
    """
    try:
        with Image.open(path) as image:
            exif = image.getexif()
            icc = image.info.get("icc_profile") or None
            if len(exif):
                exif.get_ifd(_EXIF_IFD)            # load the camera block so that it is written back
                if _ORIENTATION in exif:
                    exif[_ORIENTATION] = 1
                if not keep_gps:
                    exif.pop(_GPS_IFD, None)
            return PhotoMetadata(exif.tobytes() if len(exif) else None, icc)
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError):
        return PhotoMetadata()


def _icc_fits(profile: bytes | None, channels: int) -> bool:
    """An ICC profile describes gray or RGB data (header bytes 16-20); attach it only to matching pixels."""
    if not profile or len(profile) < 20:
        return False
    space = profile[16:20]
    return space == (b"GRAY" if channels in (1, 2) else b"RGB ")


def write_image(path: str | os.PathLike, array, quality: int = 95, metadata: PhotoMetadata | None = None) -> Path:
    """Write an array to ``path``; the extension picks the format.

    uint8 gray, gray+alpha, RGB and RGBA are written as they are; uint16 gray
    and colour (RGB, RGBA) stay 16-bit in PNG and TIFF (colour through the
    ``16bit`` extra; TIFF deflate-compressed); floats in [0, 1] are stored as 8-bit.
    Formats without alpha (JPEG, BMP) drop the alpha channel.  ``quality``
    (1-100) is for JPEG and WebP; ``metadata`` (from :func:`read_metadata`)
    puts EXIF and a matching ICC profile into JPEG, PNG, WebP and TIFF files
    (16-bit colour files are written without them).  The file is written to
    a temporary name and renamed into place.
    """
    path = Path(path)
    image_format = _FORMATS.get(path.suffix.lower())
    if image_format is None:
        raise ImageError(f"cannot tell the image format from {path.name!r}; use one of "
                         + ", ".join(sorted(set(_FORMATS))))
    array = np.asarray(array)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 2, 3, 4)):
        raise ImageError(f"an image array must be (H, W) or (H, W, 1|2|3|4), got shape {array.shape}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    channels = 1 if array.ndim == 2 else array.shape[2]
    if array.dtype == np.uint16 and channels in (3, 4) and image_format in ("PNG", "TIFF"):
        written = _write_16bit_colour(path, array, image_format, channels)
        if written is not None:
            return written
    if array.dtype == np.uint16 and channels == 1 and image_format in ("PNG", "TIFF"):
        image = Image.fromarray(np.ascontiguousarray(array))  # uint16 (H, W) -> mode I;16
    else:
        array = to_uint8(array)
        if channels in (2, 4) and image_format in _NO_ALPHA:
            array = array[:, :, :-1] if channels == 4 else array[:, :, 0]
            channels -= 1
        image = Image.fromarray(np.ascontiguousarray(array))  # uint8: L, LA, RGB or RGBA by shape
    if not 1 <= quality <= 100:
        raise ImageError(f"quality must be 1-100, got {quality}")
    options = _save_options(image_format, quality, metadata, channels)
    return write_atomically(path, lambda handle: image.save(handle, format=image_format, **options))


def _write_16bit_colour(path: Path, array, image_format: str, channels: int) -> Path | None:
    """16-bit RGB(A) PNG or TIFF through the 16bit extra; None (with a warning) without it."""
    codecs = _sixteen_bit_codecs()
    if codecs is None:
        warnings.warn(f"{path}: 16-bit colour written as 8 bits; {_SIXTEEN_BIT_HINT}", PrecisionWarning, stacklevel=3)
        return None
    imagecodecs, tifffile = codecs
    array = np.ascontiguousarray(array)
    if image_format == "PNG":
        encoded = imagecodecs.png_encode(array)
        return write_atomically(path, lambda handle: handle.write(encoded))
    alpha = {"extrasamples": ["unassalpha"]} if channels == 4 else {}
    return write_atomically(path, lambda handle: tifffile.imwrite(
        handle, array, photometric="rgb", compression="zlib", **alpha))


def _save_options(image_format: str, quality: int, metadata, channels: int) -> dict:
    """Pillow's save options: the quality (JPEG, WebP), the EXIF and a matching ICC profile."""
    options = {"quality": quality} if image_format in ("JPEG", "WEBP") else {}
    if metadata is not None and image_format in ("JPEG", "PNG", "WEBP", "TIFF"):
        if metadata.exif:
            options["exif"] = metadata.exif
        if _icc_fits(metadata.icc_profile, channels):
            options["icc_profile"] = metadata.icc_profile
    return options


def write_figure(path: str | os.PathLike, figure) -> Path:
    """Save a matplotlib Figure atomically; the format follows the extension (png, pdf, svg, jpg)."""
    suffix = Path(path).suffix.lower().lstrip(".") or "png"
    return write_atomically(path, lambda handle: figure.savefig(handle, format=suffix))


def find_images(folder: str | os.PathLike, skip: str | os.PathLike | None = None) -> list[Path]:
    """Every file with an image extension under ``folder`` (recursively), sorted.

    ``skip`` is a folder left out of the walk, e.g. an output folder inside
    the input folder, so that a second run does not process its own results.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no such folder: {folder}")
    skipped = Path(skip).resolve() if skip is not None else None
    found = []
    for path in folder.rglob("*"):
        if not (path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()):
            continue
        if skipped is not None and path.resolve().is_relative_to(skipped):
            continue
        found.append(path)
    return sorted(found)


class OutputConflict(ValueError):
    """Writing would overwrite an input file, or two inputs would be written to one output."""


def _identity(path: Path):
    """What identifies a file on disk: (device, inode) when it exists, else its normalised absolute path."""
    try:
        stat = path.stat()
        return stat.st_dev, stat.st_ino
    except OSError:
        return os.path.normcase(str(path.resolve()))


def check_outputs(pairs, overwrite: bool = False, flag: str = "--overwrite", merged: bool = False) -> None:
    """Refuse, before anything is written, outputs that would destroy or collide.

    ``pairs`` are ``(input path, output path)``.  An output that *is* an input
    file (compared as files on disk, so symlinks, ``./x.jpg`` and other
    spellings, and case-insensitive file systems are caught) is refused unless
    ``overwrite``; two inputs written to one output are refused unless
    ``merged`` (several inputs make one output, as an exposure bracket does).
    Raises :class:`OutputConflict` naming the files.
    """
    pairs = [(Path(source), Path(target)) for source, target in pairs]
    inputs = {_identity(source): source for source, _ in pairs}
    written: dict = {}
    for source, target in pairs:
        key = _identity(target)
        if key in inputs and not overwrite:
            raise OutputConflict(f"{target} is the input file {inputs[key]}: refusing to overwrite it "
                                 f"(give another output, or {flag} to replace it)")
        if key in written and written[key] != source and not merged:
            raise OutputConflict(f"{written[key]} and {source} would both be written to {target}: "
                                 "give them different names or folders")
        written.setdefault(key, source)


def exposure_time(path: str | os.PathLike) -> float | None:
    """The EXIF ExposureTime of an image file in seconds, or None when it has none."""
    try:
        with Image.open(path) as image:
            exif = image.getexif()
            value = exif.get_ifd(0x8769).get(0x829A) or exif.get(0x829A)
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError):
        return None
    try:
        seconds = float(value) if value is not None else None
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return seconds if seconds and seconds > 0 else None


def write_radiance_hdr(path: str | os.PathLike, radiance) -> Path:
    """Write a float (H, W, 3) radiance map as a Radiance ``.hdr`` file (RGBE, uncompressed scanlines).

    Each pixel stores a shared exponent: ``e = frexp(max(r, g, b))``, and three 8-bit
    mantissas ``floor(c * 256 * m / max)`` — about 1 % relative precision over a huge range.
    """
    radiance = np.asarray(radiance, dtype=np.float64)
    if radiance.ndim != 3 or radiance.shape[2] != 3 or not np.isfinite(radiance).all() or radiance.min() < 0:
        raise ImageError("a radiance map to save as .hdr must be a finite, non-negative (H, W, 3) array")
    height, width = radiance.shape[:2]
    brightest = radiance.max(axis=2)
    mantissa, exponent = np.frexp(brightest)
    scale = np.divide(mantissa * 256.0, brightest, out=np.zeros_like(brightest), where=brightest > 1e-32)
    rgbe = np.zeros((height, width, 4), dtype=np.uint8)
    rgbe[..., :3] = np.clip(np.floor(radiance * scale[..., None]), 0, 255).astype(np.uint8)
    rgbe[..., 3] = np.where(brightest > 1e-32, exponent + 128, 0).astype(np.uint8)
    header = f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {height} +X {width}\n".encode("ascii")
    return write_atomically(path, lambda handle: (handle.write(header), handle.write(rgbe.tobytes())))


def reader_went_away() -> int:
    """For a command whose reader closed the pipe (``... | head``): say nothing more, and return the
    exit status of a program ended by SIGPIPE (141), as the shell's own tools would."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())       # so the interpreter's final flush fails silently too
    except (OSError, ValueError):
        pass
    return 141
