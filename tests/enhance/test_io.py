"""Image file I/O: every mode, EXIF orientation, 16-bit, atomic writes, clear errors."""
import numpy as np
import pytest
from PIL import Image

from enhance.io import ImageError, find_images, read_image, write_image
from tests.conftest import synthetic_photo


@pytest.mark.parametrize("mode, shape, dtype", [
    ("L", (48, 64), np.uint8), ("LA", (48, 64, 2), np.uint8), ("RGB", (48, 64, 3), np.uint8),
    ("RGBA", (48, 64, 4), np.uint8), ("P", (48, 64, 3), np.uint8), ("1", (48, 64), np.uint8),
])
def test_modes_are_read_as_documented(tmp_path, mode, shape, dtype):
    Image.fromarray(synthetic_photo()).convert(mode).save(tmp_path / "x.png")
    array = read_image(tmp_path / "x.png")
    assert array.shape == shape and array.dtype == dtype


def test_cmyk_and_palette_with_transparency(tmp_path):
    image = Image.fromarray(synthetic_photo())
    image.convert("CMYK").save(tmp_path / "c.jpg")
    assert read_image(tmp_path / "c.jpg").shape == (48, 64, 3)
    palette = image.convert("P")
    palette.info["transparency"] = 0
    palette.save(tmp_path / "t.png", transparency=0)
    assert read_image(tmp_path / "t.png").shape == (48, 64, 4)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_gray_round_trips(tmp_path, suffix):
    array = np.random.default_rng(0).integers(0, 65536, size=(20, 30), dtype=np.uint16)
    write_image(tmp_path / f"x{suffix}", array)
    back = read_image(tmp_path / f"x{suffix}")
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize("channels", [None, 2, 3, 4])
def test_uint8_round_trips_losslessly_in_png(tmp_path, channels):
    rng = np.random.default_rng(1)
    array = rng.integers(0, 256, size=(9, 7) if channels is None else (9, 7, channels), dtype=np.uint8)
    write_image(tmp_path / "x.png", array)
    np.testing.assert_array_equal(read_image(tmp_path / "x.png"), array)


def test_float_images_are_stored_as_8_bit_and_jpeg_drops_alpha(tmp_path):
    write_image(tmp_path / "f.png", np.array([[0.0, 0.5, 1.0, 2.0]]))
    np.testing.assert_array_equal(read_image(tmp_path / "f.png"), [[0, 128, 255, 255]])
    write_image(tmp_path / "a.jpg", np.zeros((4, 4, 4), dtype=np.uint8))
    assert read_image(tmp_path / "a.jpg").shape == (4, 4, 3)


def test_exif_orientation_is_applied(tmp_path):
    array = synthetic_photo(20, 30)
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    image.save(tmp_path / "o.jpg", exif=exif, quality=100)
    assert read_image(tmp_path / "o.jpg").shape == (30, 20, 3)


def test_clear_errors_for_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "zero.jpg").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello")
    Image.fromarray(synthetic_photo()).save(tmp_path / "full.jpg")
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "full.jpg").read_bytes()[:400])
    with pytest.raises(ImageError, match=r"zero.jpg is empty \(0 bytes\)"):
        read_image(tmp_path / "zero.jpg")
    with pytest.raises(ImageError, match="not an image file"):
        read_image(tmp_path / "text.png")
    with pytest.raises(ImageError, match="truncated or corrupt"):
        read_image(tmp_path / "cut.jpg")
    with pytest.raises(ImageError, match="folder"):
        read_image(tmp_path)


def test_decompression_bombs_are_refused(tmp_path, monkeypatch):
    Image.fromarray(synthetic_photo()).save(tmp_path / "x.png")
    for limit in (1000, 2000):     # past the warning limit, and past Pillow's hard limit of twice that
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
        with pytest.raises(ImageError, match=f"too large to open safely: images above {limit:,} pixels") as error:
            read_image(tmp_path / "x.png")
        assert str(error.value).count("pixels") == 1       # one limit named, not two


def test_writes_are_atomic_and_check_their_input(tmp_path, monkeypatch):
    target = tmp_path / "keep.png"
    write_image(target, np.zeros((4, 4), dtype=np.uint8))
    before = target.read_bytes()

    def disk_full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_image(target, np.ones((4, 4), dtype=np.uint8))
    assert target.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["keep.png"]
    monkeypatch.undo()
    with pytest.raises(ImageError, match="format"):
        write_image(tmp_path / "x.gifx", np.zeros((2, 2), dtype=np.uint8))
    with pytest.raises(ImageError, match="shape"):
        write_image(tmp_path / "x.png", np.zeros((2, 2, 5), dtype=np.uint8))


def test_find_images_is_recursive_and_sorted(photo_folder):
    assert [p.name for p in find_images(photo_folder)] == ["deep.jpg", "photo0.png", "photo1.png", "photo2.png"]


def sixteen_bit_photo(channels):
    """A 16-bit colour photo (RGB order) spanning the full range, with the edge values 0 and 65535."""
    photo = synthetic_photo(30, 41).astype(np.uint32) * 257 + np.random.default_rng(0).integers(0, 257, (30, 41, 3))
    array = np.clip(photo, 0, 65535).astype(np.uint16)
    if channels == 4:
        array = np.concatenate([array, np.linspace(0, 65535, 30 * 41).reshape(30, 41, 1).astype(np.uint16)], axis=2)
    array[0, 0], array[0, 1] = 0, 65535
    return array


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("channels", [3, 4])
def test_16_bit_colour_is_read_and_written_bit_for_bit_as_opencv_does(tmp_path, suffix, channels):
    cv2 = pytest.importorskip("cv2", reason="OpenCV writes and reads the reference files")
    pytest.importorskip("imagecodecs", reason="the 16bit extra decodes 16-bit colour")
    rgb = sixteen_bit_photo(channels)
    to_bgr = [2, 1, 0, 3][:channels]
    assert cv2.imwrite(str(tmp_path / f"cv{suffix}"), rgb[..., to_bgr])          # OpenCV's own file
    ours = read_image(tmp_path / f"cv{suffix}")
    assert ours.dtype == np.uint16 and ours.shape == rgb.shape
    np.testing.assert_array_equal(ours, rgb)
    write_image(tmp_path / f"ours{suffix}", rgb)                                  # our file, read by OpenCV
    theirs = cv2.imread(str(tmp_path / f"ours{suffix}"), cv2.IMREAD_UNCHANGED)
    assert theirs.dtype == np.uint16
    np.testing.assert_array_equal(theirs[..., to_bgr], rgb)
    np.testing.assert_array_equal(read_image(tmp_path / f"ours{suffix}"), rgb)


def test_16_bit_colour_tiff_keeps_its_orientation(tmp_path):
    tifffile = pytest.importorskip("tifffile", reason="the 16bit extra writes the tagged file")
    rgb = sixteen_bit_photo(3)
    tifffile.imwrite(tmp_path / "o.tif", rgb, photometric="rgb", extratags=[(274, "H", 1, 6, True)])  # rotate 90 cw
    np.testing.assert_array_equal(read_image(tmp_path / "o.tif"), np.rot90(rgb, -1))


def test_without_the_16bit_extra_colour_falls_back_to_8_bits_and_says_so(tmp_path, monkeypatch):
    import enhance.io

    pytest.importorskip("imagecodecs", reason="the 16bit extra writes the 16-bit file")
    rgb = sixteen_bit_photo(3)
    write_image(tmp_path / "x.png", rgb)
    monkeypatch.setattr(enhance.io, "_sixteen_bit_codecs", lambda: None)
    with pytest.warns(enhance.io.PrecisionWarning, match="16-bit colour read as 8 bits"):
        eight = read_image(tmp_path / "x.png")
    assert eight.dtype == np.uint8 and np.abs(eight.astype(int) - (rgb >> 8)).max() <= 1
    with pytest.warns(enhance.io.PrecisionWarning, match="written as 8 bits"):
        write_image(tmp_path / "y.png", rgb)
    assert read_image(tmp_path / "y.png").dtype == np.uint8


def test_images_are_read_from_memory_too(tmp_path):
    import io

    Image.fromarray(synthetic_photo()).save(tmp_path / "x.png")
    data = (tmp_path / "x.png").read_bytes()
    expected = read_image(tmp_path / "x.png")
    np.testing.assert_array_equal(read_image(data), expected)
    np.testing.assert_array_equal(read_image(io.BytesIO(data)), expected)
    with pytest.raises(ImageError, match="is empty"):
        read_image(b"")
    with pytest.raises(ImageError, match="not an image file"):
        read_image(io.BytesIO(b"hello"))
    if pytest.importorskip("imagecodecs", reason="the 16bit extra decodes 16-bit colour"):
        rgb = sixteen_bit_photo(4)
        write_image(tmp_path / "deep.png", rgb)
        np.testing.assert_array_equal(read_image((tmp_path / "deep.png").read_bytes()), rgb)
