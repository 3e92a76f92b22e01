"""The shipped default model: it loads with no argument and colorizes a held-out photo
measurably better than the grayscale baseline."""
import numpy as np

from colorize import colorize, load_model
from colorize.cli import SAMPLE
from colorize.evaluate import score_photo
from colorize.hints import truth_hints
from colorize.infer import DEFAULT_WEIGHTS
from enhance import read_image


def test_the_default_weights_are_shipped_small_and_load_with_no_argument():
    assert DEFAULT_WEIGHTS.is_file(), "colorize/weights/colorizer.npz must ship with the package"
    assert DEFAULT_WEIGHTS.stat().st_size <= 25e6
    model = load_model()
    assert model.hidden_layer_count() == 18 and not model.training


def test_it_beats_the_grayscale_baseline_on_a_held_out_photo():
    # fallen_leaf.jpg was held out of training (colorize/samples/SOURCE.md); the validation figures
    # on all 41 held-out photos are in weights/MODEL_CARD.md.  Here: a clear gain, a smaller chroma
    # error than gray, and colour that is neither absent nor painted on.
    scores = score_photo(load_model(), read_image(SAMPLE))  # default working size
    assert scores["psnr"] >= scores["psnr_gray"] + 1.0, scores
    assert scores["ab_rmse"] < 0.9 * scores["ab_rmse_gray"], scores
    assert 0.15 * scores["colorfulness_truth"] <= scores["colorfulness"] <= 1.1 * scores["colorfulness_truth"], scores


def test_it_follows_colour_points_sampled_from_the_truth():
    model, photo = load_model(), read_image(SAMPLE)
    assert model.config["hints"] and model.config["skips"]
    automatic = score_photo(model, photo)["psnr"]
    guided = score_photo(model, photo, hints=truth_hints(photo, 10, SAMPLE.name))["psnr"]
    assert guided >= automatic + 1.0, (automatic, guided)
    assert np.array_equal(colorize(photo, model, hints=[]), colorize(photo, model))


def test_default_model_colorizes_a_gray_array_with_no_model_argument():
    gray = np.asarray(read_image(SAMPLE)).mean(axis=2).astype(np.uint8)
    out = colorize(gray)
    assert out.shape == gray.shape + (3,) and out.dtype == np.uint8
    assert np.abs(out[..., 0].astype(int) - out[..., 2]).mean() > 2  # not gray any more
