"""The colorizer network: structure, shapes and an end-to-end gradient check."""
from pathlib import Path

import numpy as np
import pytest

import nnscratch as nn
from colorize.infer import load_model
from colorize.model import SKIP_SOURCES, Colorizer, build_model, layer_table, upgrade_state
from colorize import gradcheck as gradcheck_table
from nnscratch.checks import run_case


def test_default_is_18_hidden_relu_layers_of_3x3_convolutions():
    model = Colorizer()
    layers = [layer for _, layer in model.layers()]
    convs = [m for m in layers if isinstance(m, nn.Conv2d)]
    assert model.hidden_layer_count() == 18
    assert len(convs) == 19 and all(c.kernel_size == (3, 3) for c in convs)  # 18 hidden + output
    assert sum(c.stride == (2, 2) for c in convs) == 3
    assert sum(isinstance(m, nn.Upsample) for m in layers) == 3
    assert isinstance(layers[-1], nn.Tanh) and convs[-1].out_channels == 2
    assert sum(isinstance(m, nn.BatchNorm2d) for m in layers) == 18


@pytest.mark.parametrize("hidden", [6, 9, 12, 18, 21])
def test_any_depth_keeps_the_shape(hidden):
    model = Colorizer(hidden_layers=hidden, width=2, norm="none")
    assert model.hidden_layer_count() == hidden
    y = model.forward(np.zeros((2, 1, 16, 24), dtype=np.float32))
    assert y.shape == (2, 2, 16, 24) and y.dtype == np.float32


def test_rejects_bad_configurations_and_inputs():
    with pytest.raises(ValueError, match="hidden_layers"):
        Colorizer(hidden_layers=5)
    with pytest.raises(ValueError, match="norm"):
        Colorizer(norm="group")
    with pytest.raises(ValueError, match="divisible by 8"):
        Colorizer(width=2).forward(np.zeros((1, 1, 12, 16), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        Colorizer(width=2).forward(np.zeros((1, 3, 16, 16), dtype=np.float32))


@pytest.mark.parametrize("case", gradcheck_table.CASES, ids=[c.name for c in gradcheck_table.CASES])
def test_whole_colorizer_gradient_check_in_float64(case):
    errors = run_case(case)                   # python -m colorize.gradcheck prints the same table
    assert "input" in errors and max(errors.values()) <= case.tolerance, errors


def test_colorizer_backward_skips_the_input_gradient_but_not_the_first_layer_weights():
    model = Colorizer(hidden_layers=18, width=2, seed=1)
    x = np.random.default_rng(2).normal(size=(2, 1, 16, 16)).astype(np.float32)
    y = model.forward(x)
    model.zero_grad()
    assert model.backward(np.ones_like(y)) is None
    first = model.input_layer
    assert first is model.enc0.conv and first.weight.grad is not None and np.abs(first.weight.grad).sum() > 0


def test_layer_table_counts_parameters_and_flops():
    model = Colorizer(width=8)
    rows = layer_table(model, 64, 64)
    assert sum(r["params"] for r in rows) == sum(p.data.size for p in model.parameters())
    first = rows[0]
    assert first["output"] == (8, 64, 64) and first["flops_per_megapixel"] == 2 * 8 * 9 * 1e6


def test_skip_connections_join_encoder_and_decoder_of_the_same_resolution_and_width():
    model = Colorizer(hidden_layers=18, width=4, skips=True)
    plain = Colorizer(hidden_layers=18, width=4, skips=False)
    assert model.skip_levels == (2, 1, 0) and plain.skip_levels == ()
    assert sum(p.data.size for p in model.parameters()) == sum(p.data.size for p in plain.parameters())
    shapes = {}
    model.forward(np.zeros((1, 1, 32, 32), dtype=np.float32), visit=lambda name, layer, y: shapes.setdefault(name, y.shape))
    for level, source in SKIP_SOURCES.items():
        assert shapes[f"up{level}.relu"] == shapes[f"{source}.relu"]
    # the same weights give a different function once the skips are on
    plain.load_state_dict(model.state_dict())
    x = np.random.default_rng(0).normal(size=(1, 1, 32, 32)).astype(np.float32)
    assert not np.allclose(model.eval().forward(x), plain.eval().forward(x))


def test_hint_input_has_four_channels_and_old_configurations_rebuild_without_skips_or_hints():
    model = Colorizer(width=2, hints=True)
    assert model.in_channels == 4 and model.input_layer.in_channels == 4
    with pytest.raises(ValueError, match=r"lightness and 3 hint channels.*\(N, 4, H, W\)"):
        model.forward(np.zeros((1, 1, 16, 16), dtype=np.float32))
    legacy = build_model({"hidden_layers": 18, "width": 2, "norm": "batch"})   # a file from before hints/skips
    assert legacy.config["hints"] is False and legacy.config["skips"] is False and not legacy.skip_levels


def test_global_context_adds_a_scene_summary_before_the_decoder_and_no_hidden_layer():
    model = Colorizer(hidden_layers=18, width=4, hints=True, context=True, seed=2)
    plain = Colorizer(hidden_layers=18, width=4, hints=True, seed=2)
    kinds = [type(m).__name__ for _, m in model.layers()]
    at = kinds.index("GlobalContext")
    assert kinds.count("GlobalContext") == 1 and kinds[at - 2:at + 2] == ["BatchNorm2d", "ReLU", "GlobalContext", "Upsample"]
    assert model.context.channels == 16 and model.hidden_layer_count() == 18
    assert sum(p.data.size for p in model.parameters()) == sum(p.data.size for p in plain.parameters()) + 16 * 16 + 16
    assert model.config["context"] is True and "context" not in plain.config       # older files read as before
    assert build_model(model.config).config == model.config
    # it starts as the identity, so the same weights give the same function ...
    x = np.random.default_rng(0).normal(size=(2, 4, 32, 48)).astype(np.float32)
    np.testing.assert_array_equal(model.eval().forward(x), plain.eval().forward(x))
    # ... and once trained, what one part of the image holds changes the colour everywhere
    model.context.weight.data = np.random.default_rng(1).normal(size=(16, 16)).astype(np.float32)
    x = np.random.default_rng(3).normal(size=(1, 4, 16, 320)).astype(np.float32)
    changed = x.copy()
    changed[:, 0, :, 288:] += 1.0                         # only the right-hand tenth of the lightness
    left = slice(0, 8)                                    # pixels whose receptive field never reaches it
    np.testing.assert_array_equal(plain.forward(x)[..., left], plain.forward(changed)[..., left])
    assert not np.allclose(model.forward(x)[..., left], model.forward(changed)[..., left])


def test_skip_and_hint_network_matches_pytorch_forward_and_gradients_in_float64():
    torch = pytest.importorskip("torch", reason="PyTorch is the reference (pip install torch==2.13.0)")
    model = Colorizer(hidden_layers=18, width=2, hints=True, skips=True, seed=4).double()
    layers = []
    for _, layer in model.layers():
        if isinstance(layer, nn.Conv2d):
            conv = torch.nn.Conv2d(layer.in_channels, layer.out_channels, 3, layer.stride, layer.padding,
                                   layer.dilation, bias=layer.bias is not None).double()
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(layer.weight.data))
                if layer.bias is not None:
                    conv.bias.copy_(torch.from_numpy(layer.bias.data))
            layers.append(conv)
        elif isinstance(layer, nn.BatchNorm2d):
            layers.append(torch.nn.BatchNorm2d(layer.num_features).double())
        elif isinstance(layer, nn.Upsample):
            layers.append(torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False))
        else:
            layers.append({nn.ReLU: torch.nn.ReLU, nn.Tanh: torch.nn.Tanh}[type(layer)]())
    x = np.random.default_rng(1).normal(size=(2, 4, 16, 24))
    kept, tx = {}, torch.from_numpy(x)
    for index, layer in enumerate(layers):          # the skips, written out independently
        tx = layer(tx)
        if index in (2, 5, 11):                      # taps: first conv's ReLU, the first two stride-2 ReLUs
            kept[index] = tx
        if index in (39, 46, 53):                    # after each decoder level's first ReLU
            tx = tx + kept[{39: 11, 46: 5, 53: 2}[index]]
    names = [name for name, _ in model.layers()]
    assert [names[i] for i in (2, 5, 11, 39, 46, 53)] == ["enc0.relu", "down1.relu", "down2.relu",
                                                           "up2.relu", "up1.relu", "up0.relu"]
    upstream = np.random.default_rng(2).normal(size=tx.shape)
    tx.backward(torch.from_numpy(upstream))
    ours = model.forward(x)
    np.testing.assert_allclose(ours, tx.detach().numpy(), rtol=1e-10, atol=1e-12)
    model.zero_grad()
    model.backward(upstream)
    convs = [layer for layer in layers if isinstance(layer, torch.nn.Conv2d)]
    mine = [layer for _, layer in model.layers() if isinstance(layer, nn.Conv2d)]
    for theirs, our in zip(convs, mine):
        scale = np.abs(theirs.weight.grad.numpy()).max()
        assert np.abs(our.weight.grad - theirs.weight.grad.numpy()).max() <= 1e-10 * scale


def test_an_output_shrink_takes_chroma_off_every_pixel_keeps_hue_and_the_weights():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4, 16, 16)).astype(np.float32)
    plain = Colorizer(width=4, hints=True, seed=1).eval()
    ab = plain.forward(x) * 110
    shrunk = Colorizer(width=4, hints=True, shrink=6.0, seed=1).eval()
    assert shrunk.config["shrink"] == 6.0 and "shrink" not in plain.config
    assert list(shrunk.state_dict()) == list(plain.state_dict())          # no weights of its own
    ab_shrunk = shrunk.forward(x) * 110
    chroma, chroma_shrunk = np.hypot(*ab.transpose(1, 0, 2, 3)), np.hypot(*ab_shrunk.transpose(1, 0, 2, 3))
    np.testing.assert_allclose(chroma_shrunk, np.maximum(chroma - 6.0, 0), atol=1e-4)
    kept = chroma > 6.5
    assert kept.any() and (~kept).any()
    np.testing.assert_allclose(np.arctan2(ab_shrunk[:, 1], ab_shrunk[:, 0])[kept],
                               np.arctan2(ab[:, 1], ab[:, 0])[kept], atol=1e-4)   # hue kept
    np.testing.assert_array_equal(plain.set_shrink(6.0).forward(x), shrunk.forward(x))
    np.testing.assert_array_equal(plain.set_shrink(0.0).forward(x) * 110, ab)
    assert "shrink" not in plain.config
    assert build_model(shrunk.config).config == shrunk.config
    for bad in (-1.0, 110.0, float("nan")):
        with pytest.raises(ValueError, match="shrink must be a chroma"):
            Colorizer(width=2, shrink=bad)


def test_the_output_shrink_backpropagates_through_the_whole_network():
    model = Colorizer(hidden_layers=6, width=2, norm="none", shrink=20.0, seed=2).double()
    model.input_layer.input_grad = True
    x = np.random.default_rng(4).normal(size=(1, 1, 8, 8)) * 2
    chroma = np.hypot(*model.forward(x)[0]) * 110
    assert (chroma > 25).mean() > 0.3 and (chroma < 15).mean() > 0.2      # both sides of the threshold
    errors = nn.gradcheck(model, x, max_elements=20)
    assert max(errors.values()) < 1e-5, errors


def test_the_bins_head_reads_out_the_annealed_mean_of_its_logits():
    from colorize.bins import TEMPERATURE, ab_bins

    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 4, 16, 16)).astype(np.float32)
    model = Colorizer(width=4, hints=True, head="bins", seed=1).eval()
    assert model.config["head"] == "bins" and model.config["temperature"] == TEMPERATURE
    assert model.hidden_layer_count() == 18
    output = model.head.conv
    assert isinstance(output, nn.Conv2d) and output.kernel_size == (1, 1) and output.out_channels == 261
    logits = model.forward(x, logits=True)
    assert logits.shape == (2, 261, 16, 16)
    ab = model.forward(x)
    # written out: softmax of logits / T over the bins, then the mean of the bin centres
    scaled = logits.astype(np.float64) / TEMPERATURE
    prob = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    expected = np.einsum("nqhw,qd->ndhw", prob, ab_bins()) / 110
    np.testing.assert_allclose(ab, expected, atol=2e-6)
    # a lower temperature is bolder; 1 is the plain mean; the regression head has no temperature
    chroma = {t: np.hypot(*model.set_temperature(t).forward(x).transpose(1, 0, 2, 3)).mean() for t in (0.2, 1.0)}
    assert chroma[0.2] > chroma[1.0] and model.config["temperature"] == 1.0
    assert build_model(model.config).config == model.config
    assert "head" not in Colorizer(width=2).config and "temperature" not in Colorizer(width=2).config
    with pytest.raises(ValueError, match="regression head"):
        Colorizer(width=2).set_temperature(0.5)
    with pytest.raises(ValueError, match="logits=True needs the bins head"):
        Colorizer(width=2).forward(np.zeros((1, 1, 8, 8), dtype=np.float32), logits=True)
    for bad in (0.0, -1.0, 11.0):
        with pytest.raises(ValueError, match="temperature must be in"):
            Colorizer(width=2, head="bins", temperature=bad)
    with pytest.raises(ValueError, match="head must be one of"):
        Colorizer(width=2, head="classes")


def test_the_bins_head_backward_follows_the_forward_it_answers():
    """After ``forward(x, logits=True)`` the gradient enters at the logits; after ``forward(x)`` at ab."""
    model = Colorizer(hidden_layers=6, width=2, norm="none", head="bins", seed=2).double()
    model.input_layer.input_grad = True
    x = np.random.default_rng(4).normal(size=(1, 1, 8, 8))
    logits = model.forward(x, logits=True)
    model.zero_grad()
    grad_logits = np.random.default_rng(5).normal(size=logits.shape)
    via_logits = model.backward(grad_logits)
    ab = model.forward(x)
    grad_ab = np.random.default_rng(6).normal(size=ab.shape)
    model.zero_grad()
    via_ab = model.backward(grad_ab)
    readout = model.readout
    readout.forward(logits)
    model.forward(x, logits=True)
    model.zero_grad()
    np.testing.assert_allclose(model.backward(readout.backward(grad_ab)), via_ab, rtol=1e-10)
    assert via_logits.shape == x.shape and not np.allclose(via_logits, via_ab)


LEGACY = Path(__file__).parent / "data" / "legacy-models.npz"


@pytest.mark.parametrize("variant", ["u18", "plain7", "bins9"])
def test_files_written_when_the_layers_were_numbered_load_and_colorize_bit_for_bit_the_same(variant, tmp_path):
    """The fixtures were written, with their outputs, by the network of numbered layers (see data/SOURCE.md)."""
    fixture = nn.load(LEGACY)["models"][variant]
    assert any(name.startswith("body.") for name in fixture["model"])
    path = tmp_path / "old.npz"
    nn.save(path, {"format": "colorize-model", "config": {"model": fixture["config"]}, "model": fixture["model"]})
    model = load_model(path)
    np.testing.assert_array_equal(model.forward(fixture["input"]), fixture["output"])
    # every old name has a new one, in the same order (an optimizer's state is kept by position)
    upgraded = upgrade_state(model, fixture["model"])
    assert list(upgraded) == list(model.state_dict()) and not any(name.startswith("body.") for name in upgraded)
    assert upgrade_state(model, model.state_dict()) is not None and list(upgrade_state(model, upgraded)) == list(upgraded)


def test_the_layer_table_names_every_layer_by_its_stage():
    model = Colorizer(hidden_layers=9, width=2, context=True)
    rows = layer_table(model, 16, 16)
    assert [r["name"] for r in rows] == [name for name, _ in model.layers()]
    assert [r["name"] for r in rows][:4] == ["enc0.conv", "enc0.norm", "enc0.relu", "down1.conv"]
    stages = {r["name"].split(".")[0] for r in rows}
    assert stages == {"enc0", "down1", "enc1", "down2", "enc2", "down3", "context", "up2", "up1", "up0", "head"}
    assert rows[-1]["name"] == "head.tanh" and rows[-1]["output"] == (2, 16, 16)
