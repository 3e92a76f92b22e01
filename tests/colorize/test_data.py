"""Photo folders and the seeded crop sampler."""
import numpy as np
import pytest
from PIL import Image

from colorize.data import CropSampler, PhotoSet, jitter_lightness
from enhance.io import find_images
from tests.conftest import synthetic_photo


def test_reads_every_mode_and_skips_bad_and_colourless_files(tmp_path, capsys):
    rgb = synthetic_photo()
    image = Image.fromarray(rgb)
    image.save(tmp_path / "rgb.png")
    image.convert("RGBA").save(tmp_path / "rgba.png")
    image.convert("P").save(tmp_path / "palette.png")
    image.convert("CMYK").save(tmp_path / "cmyk.tif")
    image.save(tmp_path / "photo.webp")
    image.convert("L").save(tmp_path / "gray.png")
    Image.fromarray((rgb[..., 0].astype(np.uint16) * 257)).save(tmp_path / "gray16.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.bmp").write_text("not an image")
    photos = PhotoSet.from_paths(find_images(tmp_path), min_colorfulness=5)
    names = sorted(p.name for p in photos.paths)
    assert names == ["cmyk.tif", "palette.png", "photo.webp", "rgb.png", "rgba.png"]
    skipped = {p.name: reason for p, reason in photos.skipped}
    assert "colourless" in skipped["gray.png"] and "colourless" in skipped["gray16.png"]
    assert set(skipped) == {"gray.png", "gray16.png", "empty.jpg", "notes.bmp"}
    err = capsys.readouterr().err
    assert "skipping" in err and "empty.jpg" in err


def test_empty_and_all_bad_folders_are_clear_errors(tmp_path):
    from colorize import train

    (tmp_path / "photos").mkdir()
    with pytest.raises(ValueError, match="no image files"):
        train(data=tmp_path / "photos", out=tmp_path / "run", steps=1, progress=False, quiet=True)
    (tmp_path / "photos" / "broken.png").write_bytes(b"\x89PNG\r\n")
    with pytest.raises(ValueError, match="none of the 1 training images"):
        train(data=tmp_path / "photos", out=tmp_path / "run", steps=1, progress=False, quiet=True)


def test_batches_are_a_pure_function_of_seed_and_step(photo_folder):
    photos = PhotoSet.from_paths(find_images(photo_folder))
    first, second = CropSampler(photos, 3, 16, seed=5), CropSampler(photos, 3, 16, seed=5)
    for step in (0, 7, 2):
        a, b = first.batch(step), second.batch(step)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    inputs, targets = first.batch(1)
    assert inputs.shape == (3, 1, 16, 16) and targets.shape == (3, 2, 16, 16)
    assert inputs.dtype == targets.dtype == np.float32
    assert -1 <= inputs.min() and inputs.max() <= 1 and np.abs(targets).max() <= 1
    assert not np.array_equal(first.batch(0)[0], first.batch(1)[0])
    assert not np.array_equal(first.batch(0)[0], CropSampler(photos, 3, 16, seed=6).batch(0)[0])


def test_every_photo_is_used_once_per_epoch(photo_folder):
    photos = PhotoSet.from_paths(find_images(photo_folder))
    sampler = CropSampler(photos, 1, 8, seed=0)
    assert sorted(sampler._image_index(i) for i in range(4)) == [0, 1, 2, 3]
    assert sorted(sampler._image_index(i) for i in range(4, 8)) == [0, 1, 2, 3]


def test_sampler_checks_its_settings(photo_folder):
    photos = PhotoSet.from_paths(find_images(photo_folder))
    with pytest.raises(ValueError, match="multiple of 8"):
        CropSampler(photos, 2, 12, seed=0)
    with pytest.raises(ValueError, match="scale range"):
        CropSampler(photos, 2, 16, seed=0, scale=(0, 1))
    with pytest.raises(ValueError, match="light_jitter"):
        CropSampler(photos, 2, 16, seed=0, light_jitter=-0.1)


def test_lightness_jitter_changes_only_the_lightness_and_keeps_its_order(photo_folder):
    photos = PhotoSet.from_paths(find_images(photo_folder))
    plain = CropSampler(photos, 4, 32, seed=3, hints=True)
    jittered = CropSampler(photos, 4, 32, seed=3, hints=True, light_jitter=0.4)
    for step in (0, 5):
        (x0, y0), (x1, y1) = plain.batch(step), jittered.batch(step)
        np.testing.assert_array_equal(y0, y1)                 # the colours (targets) are untouched
        np.testing.assert_array_equal(x0[:, 1:], x1[:, 1:])   # and so are the hints drawn from them
        assert -1 <= x1[:, 0].min() and x1[:, 0].max() <= 1
        for before, after in zip(x0[:, 0], x1[:, 0]):
            assert not np.array_equal(before, after)
            order = np.argsort(before, axis=None, kind="stable")
            assert np.all(np.diff(after.ravel()[order]) >= -1e-6)   # a monotone tone curve
    np.testing.assert_array_equal(jittered.batch(2)[0], jittered.batch(2)[0])


def test_jitter_lightness_is_a_gamma_then_a_contrast_about_the_mean():
    light = np.linspace(-1, 1, 101, dtype=np.float32)
    assert jitter_lightness(light, np.random.default_rng(0), 0.0) is light
    seed = 11
    rng = np.random.default_rng(seed)
    gamma, contrast = np.exp(rng.uniform(-0.5, 0.5)), np.exp(rng.uniform(-0.25, 0.25))
    tone = ((light.astype(np.float64) + 1) / 2) ** gamma
    expected = 2 * np.clip(tone.mean() + contrast * (tone - tone.mean()), 0, 1) - 1
    np.testing.assert_allclose(jitter_lightness(light, np.random.default_rng(seed), 0.5), expected, atol=1e-5)
    assert jitter_lightness(light, np.random.default_rng(seed), 0.5).dtype == np.float32


def test_category_weights_balance_photos_against_their_categories():
    from colorize.data import category_weights

    paths = ["a/land1.jpg", "a/land2.jpg", "b/land3.jpg", "food.jpg", "stray.jpg"]
    categories = {"land1.jpg": "landscape", "land2.jpg": "landscape", "land3.jpg": "landscape", "food.jpg": "food"}
    np.testing.assert_allclose(category_weights(paths, categories, 0.0), np.ones(5))
    np.testing.assert_allclose(category_weights(paths, categories, 1.0), [1 / 3, 1 / 3, 1 / 3, 1, 1])
    np.testing.assert_allclose(category_weights(paths, categories, 0.5), [3 ** -0.5] * 3 + [1, 1])


def test_weighted_sampling_follows_the_weights_and_stays_a_function_of_the_step(photo_folder):
    photos = PhotoSet.from_paths(find_images(photo_folder))
    weights = np.zeros(len(photos))
    weights[:2] = (0.8, 0.2)                   # only the first two photos, four to one
    sampler = CropSampler(photos, 4, 16, seed=3, weights=weights)
    drawn = [sampler._image_index(position) for position in range(4000)]
    assert set(drawn) == {0, 1} and abs(drawn.count(0) / 4000 - 0.8) < 0.03
    again = CropSampler(photos, 4, 16, seed=3, weights=weights)
    for step in (5, 0, 9):
        np.testing.assert_array_equal(sampler.batch(step)[1], again.batch(step)[1])
    with pytest.raises(ValueError, match="non-negative"):
        CropSampler(photos, 4, 16, seed=3, weights=-np.ones(len(photos)))
