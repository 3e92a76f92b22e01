"""The enhance command line."""
import numpy as np
import pytest
from PIL import Image

from enhance import clahe, contrast, equalize_hist, gamma, read_image
from enhance.cli import main
from enhance.io import write_image
from tests.conftest import synthetic_photo


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "in.png"
    Image.fromarray(synthetic_photo(40, 50)).save(path)
    return path


def test_chained_operations_equal_the_functions(photo, tmp_path):
    out = tmp_path / "out.png"
    assert main([str(photo), str(out), "equalize", "contrast:1.3", "gamma:0.8", "clahe:clip_limit=2,tile_grid_size=8"]) == 0
    expected = clahe(gamma(contrast(equalize_hist(read_image(photo)), 1.3), 0.8), 2, (8, 8))
    np.testing.assert_array_equal(read_image(out), expected)


def test_sixteen_bit_png_stays_sixteen_bit(tmp_path):
    image = np.random.default_rng(0).integers(0, 65536, (20, 30), dtype=np.uint16)
    Image.fromarray(image).save(tmp_path / "deep.png")
    assert main([str(tmp_path / "deep.png"), str(tmp_path / "out.tif"), "invert"]) == 0
    np.testing.assert_array_equal(read_image(tmp_path / "out.tif"), 65535 - image)


def test_sixteen_bit_colour_stays_sixteen_bit_through_the_command(tmp_path):
    pytest.importorskip("imagecodecs", reason="the 16bit extra decodes 16-bit colour")
    from tests.enhance.test_io import sixteen_bit_photo

    photo = sixteen_bit_photo(3)
    write_image(tmp_path / "deep.png", photo)
    assert main([str(tmp_path / "deep.png"), str(tmp_path / "out.tif"), "gamma:0.8", "contrast:1.2"]) == 0
    out = read_image(tmp_path / "out.tif")
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, contrast(gamma(photo, 0.8), 1.2))


@pytest.mark.parametrize("operations, message", [
    (["sparkle"], "unknown operation 'sparkle'"),
    (["gamma:-1"], "gamma must be a finite number in [0, 100]"),
    (["gamma:nan"], "gamma must be a finite number"),
    (["clahe:clip=3"], "clahe has no parameter 'clip'"),
    (["contrast"], "contrast needs factor"),
    (["contrast:abc"], "not a number"),
    (["contrast:1e308"], "contrast factor must be a finite number in [-1000, 1000]"),
    (["clahe:tile_grid_size=100000"], "too fine"),
    (["log:inverse=maybe"], "inverse must be true or false, got 'maybe'"),
])
def test_bad_operations_are_one_line_with_exit_2_and_write_nothing(photo, tmp_path, capsys, operations, message):
    out = tmp_path / "out.png"
    assert main([str(photo), str(out), *operations]) == 2
    err = capsys.readouterr().err
    assert err.startswith("enhance: error:") and message in err and err.count("\n") == 1
    assert not out.exists()


def test_folders_continue_past_bad_files(tmp_path, capsys):
    source = tmp_path / "in"
    (source / "sub").mkdir(parents=True)
    Image.fromarray(synthetic_photo()).save(source / "a.png")
    Image.fromarray(synthetic_photo(seed=2)).save(source / "sub" / "b.jpg")
    (source / "broken.png").write_bytes(b"\x89PNG")
    assert main([str(source), str(tmp_path / "out"), "sharpness:2"]) == 1
    assert "1 failed" in capsys.readouterr().err
    assert (tmp_path / "out" / "a.png").exists() and (tmp_path / "out" / "sub" / "b.jpg").exists()


def test_list_and_inspect(photo, tmp_path, capsys):
    assert main(["--list"]) == 0
    listing = capsys.readouterr().out
    assert "clahe" in listing and "clip_limit=2.0" in listing and "hdr" in listing
    assert main(["inspect", str(photo), "--at", "3,4", "--plot", str(tmp_path / "h.png")]) == 0
    out = capsys.readouterr().out
    expected = read_image(photo)[4, 3].tolist()
    assert f"pixel at x=3, y=4: {expected}" in out and (tmp_path / "h.png").exists()
    assert main(["inspect", str(photo), "--at", "999,0"]) == 2


def digest(path):
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_output_that_is_the_input_is_refused_however_it_is_spelled(photo, tmp_path, monkeypatch, capsys):
    Image.open(photo).save(tmp_path / "same.jpg", quality=95)
    (tmp_path / "link.jpg").symlink_to(tmp_path / "same.jpg")
    before = digest(tmp_path / "same.jpg")
    monkeypatch.chdir(tmp_path)
    for output in ("same.jpg", "./same.jpg", str(tmp_path / "same.jpg"), "link.jpg"):
        assert main(["same.jpg", output, "equalize"]) == 2
        err = capsys.readouterr().err
        assert "refusing to overwrite" in err and "--overwrite" in err and err.count("\n") == 1
    assert digest(tmp_path / "same.jpg") == before
    assert main(["same.jpg", "same.jpg", "equalize", "--overwrite"]) == 0
    assert digest(tmp_path / "same.jpg") != before


def test_folders_in_place_and_hdr_merge_onto_an_input_are_refused(photo, tmp_path, capsys):
    folder = tmp_path / "sf"
    folder.mkdir()
    for index in range(2):
        Image.fromarray(np.roll(synthetic_photo(40, 50), index, axis=0)).save(folder / f"p{index}.png")
    before = {p.name: digest(p) for p in folder.iterdir()}
    assert main([str(folder), str(folder), "equalize"]) == 2
    assert main(["hdr-merge", str(folder / "p0.png"), str(folder / "p1.png"), "-o", str(folder / "p0.png")]) == 2
    assert {p.name: digest(p) for p in folder.iterdir()} == before
    assert "refusing to overwrite" in capsys.readouterr().err


def test_a_folder_input_needs_a_folder_output_and_skips_its_own_output_folder(photo, tmp_path, capsys):
    nest = tmp_path / "nest"
    nest.mkdir()
    Image.open(photo).save(nest / "a.png")
    assert main([str(nest), str(tmp_path / "out.png"), "invert"]) == 2
    assert not (tmp_path / "out.png").exists() and "must be a folder" in capsys.readouterr().err
    for _ in range(2):   # the second run must not find the first run's output inside the input
        assert main([str(nest), str(nest / "out"), "invert"]) == 0
    assert sorted(p.relative_to(nest).as_posix() for p in nest.rglob("*.png")) == ["a.png", "out/a.png"]


def test_runaway_parameters_fail_fast_and_memory_errors_are_one_line(photo, tmp_path, capsys, monkeypatch):
    import enhance.cli

    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((800, 1280, 3), dtype=np.uint8)).save(big)
    assert main([str(big), str(tmp_path / "o.png"), "clahe:tile_grid_size=1000"]) == 2
    err = capsys.readouterr().err
    assert "too fine" in err and err.count("\n") == 1 and not (tmp_path / "o.png").exists()
    with pytest.raises(ValueError, match="at most 160x100"):          # the bound grows with the image
        clahe(np.zeros((800, 1280, 3), dtype=np.uint8), tile_grid_size=(200, 60))

    def exhausted(image, **kwargs):
        raise MemoryError("Unable to allocate 1.9 GiB for an array")

    monkeypatch.setitem(enhance.cli.OPERATIONS, "invert", (exhausted, "test"))
    operations = [("invert", exhausted, {})]
    with pytest.raises(enhance.cli.ImageError, match=r"invert ran out of memory on a 50x40 image \(Unable to allo"):
        enhance.cli.apply(np.zeros((40, 50, 3), dtype=np.uint8), operations)


def camera_jpeg(path, pixels, exposure=(1, 30), gps=True):
    """A JPEG as a camera writes it: make, date, exposure time, GPS, orientation, an sRGB ICC profile."""
    from PIL import ImageCms
    from PIL.TiffImagePlugin import IFDRational

    exif = Image.Exif()
    exif[0x010F], exif[0x0132], exif[0x0112] = "Camera Co", "2026:11:25 10:00:00", 1
    exif.get_ifd(0x8769)[0x829A] = IFDRational(*exposure)
    if gps:
        exif.get_ifd(0x8825)[1] = "N"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(pixels).save(path, quality=95, exif=exif.tobytes(), icc_profile=icc)
    return icc


def test_exif_and_icc_survive_enhancement_and_gps_only_on_request(tmp_path):
    icc = camera_jpeg(tmp_path / "in.jpg", synthetic_photo(40, 50))
    assert main([str(tmp_path / "in.jpg"), str(tmp_path / "out.jpg"), "contrast:1.2", "--quality", "80"]) == 0
    assert main([str(tmp_path / "in.jpg"), str(tmp_path / "gps.png"), "contrast:1.2", "--keep-gps"]) == 0
    with Image.open(tmp_path / "out.jpg") as out:
        exif = out.getexif()
        assert exif[0x010F] == "Camera Co" and exif[0x0132] == "2026:11:25 10:00:00" and exif[0x0112] == 1
        assert float(exif.get_ifd(0x8769)[0x829A]) == 1 / 30 and not exif.get_ifd(0x8825)
        assert out.info["icc_profile"] == icc
    with Image.open(tmp_path / "gps.png") as out:
        assert out.getexif().get_ifd(0x8825)[1] == "N" and out.info["icc_profile"] == icc
    assert main([str(tmp_path / "in.jpg"), str(tmp_path / "q.jpg"), "invert", "--quality", "101"]) == 2


def test_a_bracket_that_went_through_enhance_still_merges_without_times(tmp_path):
    (tmp_path / "bracket").mkdir()
    base = synthetic_photo(40, 50).astype(np.float64) / 255
    for index, (numerator, denominator) in enumerate([(1, 120), (1, 30), (1, 8)]):
        level = np.clip(np.rint(np.clip(base * (4 ** index) / 4, 0, 1) * 255), 0, 255).astype(np.uint8)
        camera_jpeg(tmp_path / "bracket" / f"e{index}.jpg", level, exposure=(numerator, denominator))
    assert main([str(tmp_path / "bracket"), str(tmp_path / "sharp"), "sharpness:1.5"]) == 0
    outputs = sorted(str(p) for p in (tmp_path / "sharp").glob("*.jpg"))
    assert main(["hdr-merge", *outputs, "--method", "debevec", "-o", str(tmp_path / "merged.png")]) == 0
    assert read_image(tmp_path / "merged.png").shape == (40, 50, 3)


def test_a_setting_too_fine_for_the_image_names_the_image_not_a_stand_in(tmp_path, capsys):
    from enhance.cli import main

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (225, 300, 3), dtype=np.uint8)).save(tmp_path / "in.png")
    assert main([str(tmp_path / "in.png"), str(tmp_path / "out.png"), "clahe:tile_grid_size=500x2", "gamma:0.8"]) == 2
    err = capsys.readouterr().err
    assert "300x225 image" in err and "4x4" not in err and not (tmp_path / "out.png").exists()
    assert main([str(tmp_path / "in.png"), str(tmp_path / "ok.png"), "clahe:tile_grid_size=37x2"]) == 0   # 8 px per tile
    assert main([str(tmp_path / "in.png"), str(tmp_path / "out2.png"), "clahe:tile_grid_size=500x2", "gamma:-1"]) == 2
