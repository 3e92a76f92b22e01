"""Colour hints: parsing and checking, the network's hint channels, training hints, and a network that follows them."""
import json

import numpy as np
import pytest
from PIL import Image

import nnscratch as nn
from colorize import colorize, rgb_to_lab, train
from colorize.cli import main
from colorize.hints import (check_hints, draw_hints, hint_channels, parse_color, parse_hint_option, read_hints_file,
                            training_hint_channels, truth_hints)
from colorize.infer import load_model, network_ab
from colorize.model import AB_SCALE, Colorizer
from enhance.io import read_image
from tests.conftest import synthetic_photo


def test_colours_parse_from_hex_and_triples():
    assert parse_color("#c03020") == (192, 48, 32) == parse_color("#C03020")
    assert parse_color((0, 255, 7)) == (0, 255, 7) == parse_color(np.array([0, 255, 7]))
    for bad in ("c03020", "#c0302", "#gg0000", (256, 0, 0), (1.5, 2, 3), (1, 2), None, (True, 0, 0)):
        with pytest.raises(ValueError, match="colour"):
            parse_color(bad)


@pytest.mark.parametrize("hints, message", [
    ([(5, 5, "#ff0000"), (48, 3, "#00ff00")], r"hint 2 .*y=48 is outside the image \(0 <= y < 48\)"),
    ([(5, -1, "#ff0000")], r"hint 1 .*x=-1 is outside"),
    ([(float("nan"), 3, "#ff0000")], r"hint 1 .*y=nan"),
    ([(5, 5, "red")], r"hint 1 .*'#rrggbb'"),
    ([(5, 5)], r"hint 1 .*not a \(y, x, colour\) triple"),
    ([("5", 5, "#ff0000")], r"hint 1 .*y must be a number"),
    ("5,5:#ff0000", "sequence"),
])
def test_bad_hints_are_value_errors_naming_the_hint(hints, message):
    with pytest.raises(ValueError, match=message):
        check_hints(hints, 48, 64)


def test_hint_channels_mark_a_square_of_working_pixels_and_average_where_points_overlap():
    hints = check_hints([(0, 0, "#ff0000"), (47.9, 63.9, (0, 0, 255)), (20, 32, "#00ff00"), (21, 33, "#00ff00"),
                         (21, 32.5, (0, 0, 255))], 48, 64)
    channels = hint_channels(hints, (48, 64), (24, 32), patch=3)
    assert channels.shape == (3, 24, 32) and channels.dtype == np.float32
    def lab(rgb):
        return rgb_to_lab(np.array([[rgb]], dtype=np.float32) / 255)[0, 0, 1:] / AB_SCALE

    # corners: the squares are clipped to the image (2 x 2 each)
    assert channels[2, :2, :2].all() and channels[2, 22:, 30:].all() and channels[2, 2, 2] == 0
    np.testing.assert_allclose(channels[:2, 0, 0], lab((255, 0, 0)), rtol=1e-6)
    np.testing.assert_allclose(channels[:2, 23, 31], lab((0, 0, 255)), rtol=1e-6)
    # three points on working pixel (10, 16), two green and one blue: 3 x 3 squares, averaged where they overlap
    np.testing.assert_allclose(channels[:2, 10, 16], (2 * lab((0, 255, 0)) + lab((0, 0, 255))) / 3, rtol=1e-5)
    np.testing.assert_allclose(channels[:2, 9, 15], (2 * lab((0, 255, 0)) + lab((0, 0, 255))) / 3, rtol=1e-5)
    assert channels[2].sum() == 4 + 4 + 9 and channels[2, 8, 16] == 0
    single = hint_channels(check_hints([(20, 30, "#00ff00")], 48, 64), (48, 64), (48, 64), patch=1)
    assert single[2].sum() == 1 and single[2, 20, 30] == 1


def test_only_the_hint_colours_chroma_is_used():
    # two colours of (nearly) the same chroma and very different lightness give the same channels
    dark, light = np.array([[[60, 20, 20]]]) / 255, None
    lab = rgb_to_lab(dark.astype(np.float32))[0, 0]
    from enhance.colorspace import lab_to_rgb
    light = np.rint(lab_to_rgb(np.array([[[lab[0] + 30, lab[1], lab[2]]]], dtype=np.float32))[0, 0] * 255)
    a = hint_channels(check_hints([(1, 1, tuple(int(v) for v in np.rint(dark[0, 0] * 255)))], 8, 8), (8, 8), (8, 8))
    b = hint_channels(check_hints([(1, 1, tuple(int(v) for v in light))], 8, 8), (8, 8), (8, 8))
    np.testing.assert_allclose(a, b, atol=1.5 / AB_SCALE)


def test_training_hints_are_seeded_patches_of_the_mean_truth_with_many_crops_empty():
    ab = np.random.default_rng(0).uniform(-0.5, 0.5, size=(2, 32, 32)).astype(np.float32)
    first = [training_hint_channels(ab, np.random.default_rng((1, i))) for i in range(400)]
    again = [training_hint_channels(ab, np.random.default_rng((1, i))) for i in range(400)]
    assert all(np.array_equal(x, y) for x, y in zip(first, again))
    empty = np.array([not c[2].any() for c in first])
    assert 0.4 < empty.mean() < 0.6                              # half the crops have no point
    # a crop with one point: one square patch, marked with the truth's mean over that patch
    single = [c for c in first if c[2].any() and len(np.unique(c[0][c[2] > 0])) == 1]
    assert single
    for channels in single[:20]:
        rows, cols = np.nonzero(channels[2])
        top, left, side = rows.min(), cols.min(), rows.max() - rows.min() + 1
        assert channels[2].sum() == side * (cols.max() - left + 1) and 1 <= side <= 9
        np.testing.assert_allclose(channels[:2, top, left], ab[:, rows.min():rows.max() + 1,
                                                              cols.min():cols.max() + 1].mean(axis=(1, 2)), atol=1e-6)


def test_truth_hints_are_reproducible_colours_of_the_photo():
    photo = synthetic_photo(48, 64)
    hints = truth_hints(photo, 10, "photo.jpg")
    assert hints == truth_hints(photo, 10, "photo.jpg") != truth_hints(photo, 10, "other.jpg")
    assert len(check_hints(hints, 48, 64)) == 10
    y, x, colour = hints[0]
    assert np.abs(np.array(colour) - photo[y, x]).max() < 60


@pytest.fixture(scope="module")
def hint_model():
    return Colorizer(hidden_layers=18, width=2, hints=True, seed=1).eval()


def _chroma_of(hex_colour):
    """(a, b) of an sRGB colour by scikit-image's conversion (independent of ours)."""
    skimage_color = pytest.importorskip("skimage.color", reason="scikit-image is the Lab reference")
    rgb = np.array(parse_color(hex_colour), dtype=np.float64).reshape(1, 1, 3) / 255
    return skimage_color.rgb2lab(rgb)[0, 0, 1:]


def test_a_hinted_colorization_takes_the_points_colour_where_the_point_is(hint_model):
    photo = synthetic_photo(64, 96, seed=3)            # under the working size: the result is the spread's own
    hints = [(20, 30, "#20a040"), (50, 80, "#c03020")]
    result = colorize(photo, hint_model, hints=hints)
    automatic = colorize(photo, hint_model)
    for y, x, colour in hints:
        wanted = _chroma_of(colour)
        got = rgb_to_lab(result[y:y + 1, x:x + 1].astype(np.float32) / 255)[0, 0, 1:]
        before = rgb_to_lab(automatic[y:y + 1, x:x + 1].astype(np.float32) / 255)[0, 0, 1:]
        assert np.linalg.norm(got - wanted) < 0.1 * np.linalg.norm(before - wanted) + 2, (colour, got, wanted)


def test_no_hints_is_exactly_the_automatic_result(hint_model):
    gray = synthetic_photo(37, 53)[..., 1]
    automatic = colorize(gray, hint_model, size=32)
    assert np.array_equal(colorize(gray, hint_model, size=32, hints=[]), automatic)
    assert not np.array_equal(colorize(gray, hint_model, size=32, hints=[(10, 10, "#ff0000")]), automatic)


def test_a_model_without_hint_input_follows_points_too():
    model = Colorizer(hidden_layers=18, width=2, seed=1).eval()
    gray = synthetic_photo(16, 16)[..., 1]
    assert np.array_equal(colorize(gray, model, hints=[]), colorize(gray, model))
    guided = colorize(gray, model, hints=[(1, 1, "#ff0000")])
    assert rgb_to_lab(guided[1:2, 1:2].astype(np.float32) / 255)[0, 0, 1] > 20      # red: a well above 0
    with pytest.raises(ValueError, match="without hint input"):            # its network has no hint input
        network_ab(model, gray.astype(np.float32) / 2.55, hints=[(1, 1, (255, 0, 0))])


def flat_colour_folder(folder, count=24):
    """Photos of one flat colour each (with a little lightness texture): only a hint can tell the colour."""
    folder.mkdir()
    rng = np.random.default_rng(5)
    for index in range(count):
        colour = rng.uniform(0.1, 0.9, size=3)
        image = colour * (1 + rng.normal(0, 0.03, size=(40, 40, 1)))
        Image.fromarray(np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)).save(folder / f"flat{index}.png")
    return folder


def hue(ab):
    return np.degrees(np.arctan2(ab[1], ab[0]))


def test_a_network_trained_briefly_with_hints_follows_a_hint_on_a_flat_image(tmp_path):
    # a small network (6 hidden layers) for speed; 300 steps on photos of one flat colour each
    train(data=flat_colour_folder(tmp_path / "flat"), out=tmp_path / "run", steps=300, batch_size=8, crop=16,
          width=8, hidden_layers=6, norm="none", lr=3e-3, hints=True, checkpoint_every=300, progress=False,
          min_colorfulness=0.0, ema_decay=0.0)
    model = load_model(tmp_path / "run")
    light = np.full((32, 32), 50.0, dtype=np.float32)        # the network's own hint input (colorize spreads
    before = network_ab(model, light, None)[0][16, 16]          # points without it)
    for colour in ("#c03020", "#2050c0"):     # a red and a blue
        target = rgb_to_lab(np.array([[parse_color(colour)]], dtype=np.float32) / 255)[0, 0, 1:]
        after = network_ab(model, light, None, check_hints([(16, 16, colour)], 32, 32))[0][16, 16]
        # the chroma at the point moves well towards the hint's (a network that ignores hints stays at
        # 1.0; over seeds 0-2 this brief training reaches 0.29-0.88) and its hue comes within 30 degrees
        # (the blue hint starts about 140 degrees away; the red one near its hue, but too pale)
        assert np.linalg.norm(after - target) < 0.7 * np.linalg.norm(before - target), (colour, before, after)
        assert abs(hue(after) - hue(target)) < 30, (colour, before, after)


@pytest.fixture
def hint_model_file(tmp_path, hint_model):
    path = tmp_path / "hint-model.npz"
    nn.save(path, {"format": "colorize-model", "config": {"model": hint_model.config},
                   "model": dict(hint_model.state_dict())})
    return path


def test_cli_hints_from_options_files_and_folders(tmp_path, hint_model_file, capsys):
    Image.fromarray(synthetic_photo()).convert("L").save(tmp_path / "gray.png")
    common = ["--checkpoint", str(hint_model_file), "--size", "32"]
    assert main(["predict", str(tmp_path / "gray.png"), "-o", str(tmp_path / "plain.png"), *common]) == 0
    assert main(["predict", str(tmp_path / "gray.png"), "-o", str(tmp_path / "hinted.png"), *common,
                 "--hint", "10,12:#c03020", "--hint", "30.5,40:#2050C0", "--show-hints", str(tmp_path / "shown.png")]) == 0
    (tmp_path / "h.json").write_text(json.dumps([{"y": 10, "x": 12, "color": "#c03020"},
                                                  {"y": 30.5, "x": 40, "color": "#2050C0"}]))
    assert main(["predict", str(tmp_path / "gray.png"), "-o", str(tmp_path / "file.png"), *common,
                 "--hints", str(tmp_path / "h.json")]) == 0
    plain, hinted, from_file = (read_image(tmp_path / f"{n}.png") for n in ("plain", "hinted", "file"))
    assert not np.array_equal(plain, hinted) and np.array_equal(hinted, from_file)
    shown = read_image(tmp_path / "shown.png")
    assert shown.shape == hinted.shape and not np.array_equal(shown, hinted)
    np.testing.assert_array_equal(shown[10, 12], (192, 48, 32))   # the point drawn in its colour
    # folders: <stem>.json beside the relative path
    (tmp_path / "in").mkdir()
    (tmp_path / "hints").mkdir()
    for name in ("a", "b"):
        Image.fromarray(synthetic_photo()).convert("L").save(tmp_path / "in" / f"{name}.png")
    (tmp_path / "hints" / "a.json").write_text((tmp_path / "h.json").read_text())
    assert main(["predict", str(tmp_path / "in"), "-o", str(tmp_path / "out"), *common,
                 "--hints", str(tmp_path / "hints")]) == 0
    assert np.array_equal(read_image(tmp_path / "out" / "a.png"), hinted)
    assert np.array_equal(read_image(tmp_path / "out" / "b.png"), plain)


def test_cli_grid_shows_the_gray_input_the_result_and_the_points(tmp_path, hint_model_file, capsys):
    Image.fromarray(synthetic_photo(60, 80)).convert("L").save(tmp_path / "gray.png")
    common = [str(tmp_path / "gray.png"), "--checkpoint", str(hint_model_file), "--size", "32"]
    assert main(["predict", *common, "-o", str(tmp_path / "out.png"), "--hint", "30,40:#c03020",
                 "--grid", str(tmp_path / "grid.png")]) == 0
    grid, result = read_image(tmp_path / "grid.png"), read_image(tmp_path / "out.png")
    assert grid.shape == (20 + 60, 3 * 80 + 2 * 8, 3)                    # a caption strip, three panels, two gaps
    gray, coloured, drawn = (grid[20:, i * 88:i * 88 + 80] for i in range(3))
    assert np.array_equal(coloured, result) and np.ptp(gray.astype(int), axis=-1).max() <= 1
    np.testing.assert_array_equal(drawn[30, 40], (192, 48, 32))           # the point drawn in its colour
    assert np.array_equal(drawn[:20], result[:20])                        # and nothing else
    assert grid[:20].min() < 128                                          # captions written
    assert main(["predict", *common, "-o", str(tmp_path / "plain.png"), "--grid", str(tmp_path / "two.png")]) == 0
    assert read_image(tmp_path / "two.png").shape == (80, 2 * 80 + 8, 3)  # no points: two panels
    (tmp_path / "in").mkdir()
    for name in ("a", "b"):
        Image.fromarray(synthetic_photo()).save(tmp_path / "in" / f"{name}.png")
    assert main(["predict", str(tmp_path / "in"), "-o", str(tmp_path / "o"), "--grid", str(tmp_path / "g.png")]) == 2
    assert "--grid draws the points of one input file" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--hint", "10;12:#c03020"], "Y,X:#RRGGBB"),
    (["--hint", "10,12:red"], "Y,X:#RRGGBB"),
    (["--hint", "48,12:#c03020"], "y=48.0 is outside the image"),
    (["--hints", "missing.json"], "no such file"),
    (["--hints", "bad.json"], "not valid JSON"),
    (["--hints", "keys.json"], 'exactly the keys "y", "x" and "color"'),
])
def test_cli_hint_mistakes_are_one_line_usage_errors_and_write_nothing(tmp_path, hint_model_file, capsys,
                                                                         monkeypatch, extra, message):
    monkeypatch.chdir(tmp_path)
    Image.fromarray(synthetic_photo()).convert("L").save("gray.png")
    (tmp_path / "bad.json").write_text("[{")
    (tmp_path / "keys.json").write_text('[{"y": 1, "x": 2, "colour": "#ffffff"}]')
    code = main(["predict", "gray.png", "-o", "out.png", "--checkpoint", str(hint_model_file), *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("colorize: error:") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out.png").exists()


def test_cli_points_guide_a_model_without_hint_input(tmp_path, capsys):
    model = Colorizer(hidden_layers=18, width=2)
    nn.save(tmp_path / "m.npz", {"format": "colorize-model", "config": {"model": model.config},
                                 "model": dict(model.state_dict())})
    Image.fromarray(synthetic_photo()).convert("L").save(tmp_path / "gray.png")
    common = [str(tmp_path / "gray.png"), "--checkpoint", str(tmp_path / "m.npz")]
    assert main(["predict", *common, "-o", str(tmp_path / "plain.png")]) == 0
    assert main(["predict", *common, "-o", str(tmp_path / "o.png"), "--hint", "1,1:#ff0000"]) == 0
    assert not np.array_equal(read_image(tmp_path / "o.png"), read_image(tmp_path / "plain.png"))


def test_drawn_hints_and_json_round_trip(tmp_path):
    image = np.zeros((40, 40, 3), dtype=np.uint8)
    drawn = draw_hints(image, [(20, 20, "#00ff00")])
    assert tuple(drawn[20, 20]) == (0, 255, 0) and image.sum() == 0
    (tmp_path / "h.json").write_text(json.dumps([{"y": 1, "x": 2.5, "color": "#00FF00"}]))
    assert read_hints_file(tmp_path / "h.json") == [(1, 2.5, "#00FF00")]
    assert parse_hint_option(" 3,4.5:#00ff00 ") == (3.0, 4.5, "#00ff00")
