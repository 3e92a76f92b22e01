"""Colour as classes: the bins, the soft encoding, the rebalancing and the classification loss,
each against a brute-force reference written out here."""
import numpy as np
import pytest

import nnscratch as nn
from colorize.bins import (BinnedCrossEntropy, ab_bins, class_prior, nearest_bin, rebalancing_weights,
                           soft_encode)
from enhance.colorspace import rgb_to_lab
from tests.conftest import synthetic_photo

CENTERS = ab_bins()


def photo_ab(seed=0, height=24, width=32):
    """(1, 2, H, W) Lab ab of a colourful synthetic photo, as training targets arrive (8-bit RGB)."""
    lab = rgb_to_lab(synthetic_photo(height, width, seed=seed).astype(np.float64) / 255)
    return lab[..., 1:].transpose(2, 0, 1)[None]


def random_colours_ab(count, seed=0):
    """(count, 2) ab of random 8-bit sRGB colours: the whole gamut, its saturated edges included."""
    rgb = np.random.default_rng(seed).integers(0, 256, size=(count, 3)) / 255.0
    return rgb_to_lab(rgb)[:, 1:]


def brute_soft_encode(ab):
    """The 5 nearest centres of each colour among all bins, Gaussian weights (σ = 5): (..., 5) each."""
    distance2 = ((ab[..., None, :] - CENTERS) ** 2).sum(axis=-1)
    order = np.argsort(distance2, axis=-1, kind="stable")[..., :5]
    chosen = np.take_along_axis(distance2, order, axis=-1)
    weights = np.exp(-(chosen - chosen[..., :1]) / (2 * 5.0 ** 2))
    return order, weights / weights.sum(axis=-1, keepdims=True)


def test_the_bins_are_the_10_unit_grid_cells_8_bit_srgb_falls_in():
    assert CENTERS.shape == (261, 2)
    assert (CENTERS % 10 == 0).all() and np.abs(CENTERS).max() <= 110
    assert [0.0, 0.0] in CENTERS.tolist()
    assert len({tuple(c) for c in CENTERS}) == len(CENTERS)
    # every colour of a random sample rounds into a bin, within half a cell's diagonal of its centre
    ab = random_colours_ab(20000)
    found = nearest_bin(ab, CENTERS)
    assert (np.abs(CENTERS[found] - ab) <= 5 + 1e-9).all()
    # and the extremes of the gamut are there: pure red, green, blue, yellow
    for rgb in ([1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]):
        ab = rgb_to_lab(np.array([rgb], dtype=np.float64))[:, 1:]
        assert np.abs(CENTERS[nearest_bin(ab, CENTERS)] - ab).max() <= 5 + 1e-9


def test_soft_encoding_puts_each_colour_on_its_five_nearest_bins_as_a_brute_force_search_does():
    ab = np.concatenate([photo_ab(seed).reshape(2, -1) for seed in range(2)]
                        + [random_colours_ab(3000, seed=1).T], axis=1)          # photos and gamut edges
    ab = ab.reshape(1, 2, 1, -1)
    indices, weights = soft_encode(ab, CENTERS)
    assert indices.shape == weights.shape == (1, 5, 1, ab.shape[-1])
    colours = ab[0, :, 0].T
    expected_order, expected_weights = brute_soft_encode(colours)
    got = indices[0, :, 0].T
    for row in range(len(colours)):       # the same bins (ties in distance may swap places) and weights
        by_bin = dict(zip(got[row], weights[0, :, 0, row]))
        assert set(by_bin) == set(expected_order[row]), row
        np.testing.assert_allclose([by_bin[b] for b in expected_order[row]], expected_weights[row], atol=1e-12)
    np.testing.assert_allclose(weights.sum(axis=1), 1)
    assert all(len(set(row)) == 5 for row in got)         # five different bins per colour


def test_soft_encoding_of_a_colour_beyond_the_gamut_still_finds_bins():
    ab = np.array([[[[-105.0]], [[105.0]]]])          # no 8-bit sRGB colour is there
    indices, weights = soft_encode(ab, CENTERS)
    expected_order, expected_weights = brute_soft_encode(ab[0, :, 0, 0])
    assert set(indices.ravel()) == set(expected_order)
    with pytest.raises(ValueError, match=r"\(N, 2, H, W\)"):
        soft_encode(np.zeros((2, 3)), CENTERS)


def test_the_prior_counts_the_pixels_and_rebalancing_weighs_rare_bins_more():
    images = [synthetic_photo(24, 32, seed=seed) for seed in range(3)]
    prior = class_prior(images, CENTERS)
    counts = np.zeros(len(CENTERS))
    for image in images:          # one pixel at a time, by the nearest centre over all bins
        ab = rgb_to_lab(image.astype(np.float32) / 255)[..., 1:].reshape(-1, 2)
        nearest = ((ab[:, None, :] - CENTERS) ** 2).sum(axis=-1).argmin(axis=1)
        counts += np.bincount(nearest, minlength=len(CENTERS))
    np.testing.assert_allclose(prior, counts / counts.sum())
    weights = rebalancing_weights(prior, CENTERS)
    distance2 = ((CENTERS[:, None] - CENTERS[None]) ** 2).sum(axis=-1)
    smoothed = np.exp(-distance2 / 50) @ prior
    smoothed /= smoothed.sum()
    np.testing.assert_allclose((smoothed * weights).sum(), 1)              # the loss's scale kept on average
    common, rare = smoothed.argmax(), smoothed.argmin()
    assert weights[rare] > weights[common]
    np.testing.assert_allclose(weights[rare] / weights[common],
                               (0.5 * smoothed[common] + 0.5 / 261) / (0.5 * smoothed[rare] + 0.5 / 261))
    np.testing.assert_allclose(rebalancing_weights(prior, CENTERS, mix=1.0), 1)   # a uniform mix: no rebalancing
    with pytest.raises(ValueError, match="mix"):
        rebalancing_weights(prior, CENTERS, mix=1.5)


def dense_reference_loss(logits, target, class_weights):
    """The rebalanced soft cross-entropy written out with dense soft targets over all bins."""
    ab = target.transpose(0, 2, 3, 1) * 110                                   # (N, H, W, 2)
    order, weights = brute_soft_encode(ab)
    soft = np.zeros(ab.shape[:3] + (len(CENTERS),))
    np.put_along_axis(soft, order, weights, axis=-1)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_prob = (shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))).transpose(0, 2, 3, 1)
    pixel_weight = class_weights[order[..., 0]]
    return float((pixel_weight * -(soft * log_prob).sum(axis=-1)).mean())


def test_the_classification_loss_matches_its_dense_definition_and_its_gradient_checks_in_float64():
    rng = np.random.default_rng(2)
    target = photo_ab(3, 6, 8) / 110
    logits = rng.normal(size=(1, len(CENTERS), 6, 8)) * 2
    class_weights = rebalancing_weights(class_prior([synthetic_photo(seed=1)], CENTERS), CENTERS)
    loss = BinnedCrossEntropy(CENTERS, class_weights)
    assert loss.forward(logits, target) == pytest.approx(dense_reference_loss(logits, target, class_weights), rel=1e-12)
    errors = nn.gradcheck_loss(BinnedCrossEntropy(CENTERS, class_weights), logits, target, max_elements=400)
    assert errors["pred"] < 1e-7, errors
    unweighted = BinnedCrossEntropy(CENTERS)
    assert unweighted.forward(logits, target) == pytest.approx(
        dense_reference_loss(logits, target, np.ones(len(CENTERS))), rel=1e-12)
    # float32 logits give a float32 gradient of the logits' shape
    loss.forward(logits.astype(np.float32), target.astype(np.float32))
    assert loss.backward().dtype == np.float32 and loss.backward().shape == logits.shape


def test_the_classification_loss_names_what_does_not_fit():
    loss = BinnedCrossEntropy(CENTERS)
    with pytest.raises(ValueError, match=r"logits must be \(N, 261, H, W\)"):
        loss.forward(np.zeros((1, 5, 2, 2)), np.zeros((1, 2, 2, 2)))
    with pytest.raises(ValueError, match="target must be ab"):
        loss.forward(np.zeros((1, 261, 2, 2)), np.zeros((1, 2, 3, 2)))
    with pytest.raises(ValueError, match="class_weights"):
        BinnedCrossEntropy(CENTERS, np.ones(3))
