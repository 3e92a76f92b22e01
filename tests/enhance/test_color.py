"""RGB gains, channel statistics and the histogram figure."""
import numpy as np
import pytest

from enhance import channel_stats, histogram_figure, rgb


def test_rgb_gains_round_half_to_even_and_saturate():
    image = np.array([[[10, 100, 200], [1, 3, 5]]], dtype=np.uint8)
    out = rgb(image, red=1.25, green=2.5, blue=1.5)
    # 10*1.25=12.5 -> 12 (half to even), 100*2.5 -> 250, 200*1.5=300 -> 255; 1.25 -> 1, 7.5 -> 8, 7.5 -> 8
    np.testing.assert_array_equal(out, [[[12, 250, 255], [1, 8, 8]]])
    np.testing.assert_array_equal(rgb(np.full((2, 2), 0.6), 2, 2, 2), np.ones((2, 2)))
    with pytest.raises(ValueError, match="gray"):
        rgb(np.zeros((2, 2), np.uint8), red=2)
    with pytest.raises(ValueError, match="red"):
        rgb(image, red=-1)


def test_channel_stats_match_numpy():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(20, 30, 4), dtype=np.uint8)
    stats = channel_stats(image)
    assert list(stats) == ["R", "G", "B", "A"]
    for index, name in enumerate("RGBA"):
        channel = image[..., index].astype(float)
        assert stats[name]["mean"] == pytest.approx(channel.mean())
        assert stats[name]["std"] == pytest.approx(channel.std())
        assert stats[name]["min"] == channel.min() and stats[name]["max"] == channel.max()
        assert stats[name]["histogram"].sum() == 600
        np.testing.assert_array_equal(stats[name]["histogram"], np.bincount(image[..., index].ravel(), minlength=256))
    assert list(channel_stats(image[..., 0])) == ["L"]


def test_histogram_figure_draws_one_curve_per_channel(tmp_path):
    figure = histogram_figure(np.zeros((4, 4, 3), np.uint8), title="x")
    assert len(figure.axes[0].lines) == 3
    figure.savefig(tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 1000
