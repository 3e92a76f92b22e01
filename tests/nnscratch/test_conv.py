"""Conv2d and ConvTranspose2d against the loop definitions of nnscratch.reference, over hypothesis-drawn geometries."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nnscratch import Conv2d, ConvTranspose2d
from nnscratch.layers.im2col import col2im, im2col

from nnscratch.reference import conv2d as conv2d_loop
from nnscratch.reference import conv2d_backward as conv2d_loop_backward
from nnscratch.reference import conv_transpose2d as conv_transpose2d_loop
from nnscratch.reference import conv_transpose2d_backward

pairs = st.tuples(st.integers(1, 3), st.integers(1, 3))


def layout(array, kind):
    """The same values in a non-contiguous array (strided slice or transposed memory)."""
    if kind == "contiguous":
        return array
    if kind == "strided":
        big = np.zeros(array.shape[:3] + (array.shape[3] * 2,), dtype=array.dtype)
        big[..., ::2] = array
        return big[..., ::2]
    return np.ascontiguousarray(array.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)  # NHWC memory


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 2), c_in=st.integers(1, 3), c_out=st.integers(1, 3), size=st.tuples(st.integers(1, 8), st.integers(1, 8)),
       kernel=pairs, stride=pairs, padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)), bias=st.booleans(),
       kind=st.sampled_from(["contiguous", "strided", "nhwc"]), seed=st.integers(0, 2**16))
def test_conv2d_matches_loop_oracle(n, c_in, c_out, size, kernel, stride, padding, dilation, bias, kind, seed):
    h, w = size
    out_h = (h + 2 * padding[0] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    out_w = (w + 2 * padding[1] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    assume(out_h >= 1 and out_w >= 1)
    rng = np.random.default_rng(seed)
    layer = Conv2d(c_in, c_out, kernel, stride, padding, dilation, bias=bias, rng=rng).double()
    if bias:
        layer.bias.data = rng.normal(size=c_out)
    x = layout(rng.normal(size=(n, c_in, h, w)), kind)
    y = layer.forward(x)
    expected = conv2d_loop(x, layer.weight.data, layer.bias.data if bias else None, stride, padding, dilation)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)

    grad_out = layout(rng.normal(size=y.shape), kind)
    grad_x = layer.backward(grad_out)
    exp_x, exp_w, exp_b = conv2d_loop_backward(x, layer.weight.data, grad_out, stride, padding, dilation)
    np.testing.assert_allclose(grad_x, exp_x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, exp_w, rtol=1e-12, atol=1e-12)
    if bias:
        np.testing.assert_allclose(layer.bias.grad, exp_b, rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 2), c_in=st.integers(1, 3), c_out=st.integers(1, 3), size=st.tuples(st.integers(1, 5), st.integers(1, 5)),
       kernel=pairs, stride=pairs, padding=st.tuples(st.integers(0, 1), st.integers(0, 1)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)), extra=st.tuples(st.integers(0, 1), st.integers(0, 1)),
       seed=st.integers(0, 2**16))
def test_conv_transpose2d_matches_loop_oracle_and_is_the_adjoint(n, c_in, c_out, size, kernel, stride, padding, dilation, extra, seed):
    output_padding = tuple(e if max(s, d) > 1 else 0 for e, s, d in zip(extra, stride, dilation))
    h, w = size
    out_size = [(s_ - 1) * st_ - 2 * p + d * (k - 1) + op + 1
                for s_, st_, p, d, k, op in zip(size, stride, padding, dilation, kernel, output_padding)]
    assume(min(out_size) >= 1)
    rng = np.random.default_rng(seed)
    layer = ConvTranspose2d(c_in, c_out, kernel, stride, padding, output_padding, dilation, rng=rng).double()
    layer.bias.data = rng.normal(size=c_out)
    x = rng.normal(size=(n, c_in, h, w))
    y = layer.forward(x)
    expected = conv_transpose2d_loop(x, layer.weight.data, layer.bias.data, stride, padding, output_padding, dilation)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)

    # Backward of the transposed conv is the forward of an ordinary conv with the same weight
    # (whose output may have a row or column more when output_padding is used: cut to the input's size).
    grad_out = rng.normal(size=y.shape)
    grad_x = layer.backward(grad_out)
    as_conv = conv2d_loop(grad_out, layer.weight.data, None, stride, padding, dilation)[:, :, :h, :w]
    np.testing.assert_allclose(grad_x, as_conv, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, grad_out.sum(axis=(0, 2, 3)), rtol=1e-12)
    # and the stamps read back one by one (the reference's own backward)
    ref_x, ref_w, ref_b = conv_transpose2d_backward(x, layer.weight.data, grad_out, stride, padding, dilation)
    np.testing.assert_allclose(grad_x, ref_x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, ref_w, rtol=1e-12, atol=1e-12)


def test_im2col_and_col2im_are_adjoint():
    rng = np.random.default_rng(3)
    padded = rng.normal(size=(2, 9, 8, 3))
    args = ((3, 2), (2, 1), (1, 2), (4, 6))
    cols = im2col(padded, *args)
    other = rng.normal(size=cols.shape)
    assert cols.shape == (2 * 4 * 6, 3 * 2 * 3)
    # <im2col(x), c> == <x, col2im(c)>
    np.testing.assert_allclose((cols * other).sum(), (padded * col2im(other, padded.shape, *args)).sum(), rtol=1e-12)


def test_float32_stays_float32_and_layout_is_free_for_the_next_layer():
    rng = np.random.default_rng(0)
    first, second = Conv2d(3, 8, 3, padding=1, rng=rng), Conv2d(8, 4, 3, padding=1, rng=rng)
    y = first(rng.normal(size=(2, 3, 10, 10)).astype(np.float32))
    assert y.dtype == np.float32 and y.shape == (2, 8, 10, 10)
    assert y.transpose(0, 2, 3, 1).flags.c_contiguous  # NHWC memory behind the NCHW view
    assert second(y).dtype == np.float32


@pytest.mark.parametrize("bad, error", [
    (np.zeros((2, 3, 5)), ValueError),           # wrong rank
    (np.zeros((2, 4, 5, 5)), ValueError),        # wrong channel count
    (np.zeros((2, 3, 5, 5), dtype=np.int32), TypeError),
    (np.zeros((2, 3, 5, 5), dtype=np.float64), TypeError),  # float32 layer, float64 input
    (np.zeros((2, 3, 1, 1), dtype=np.float32), ValueError),  # smaller than the kernel
])
def test_conv2d_rejects_bad_input_with_a_clear_message(bad, error):
    with pytest.raises(error, match="Conv2d"):
        Conv2d(3, 2, 3).forward(bad)


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match="before forward"):
        Conv2d(1, 1, 3).backward(np.zeros((1, 1, 3, 3), dtype=np.float32))


def test_nan_in_gives_nan_out():
    x = np.ones((1, 1, 5, 5), dtype=np.float32)
    x[0, 0, 2, 2] = np.nan
    y = Conv2d(1, 1, 3, padding=1, rng=np.random.default_rng(0))(x)
    assert np.isnan(y[0, 0, 1:4, 1:4]).all() and not np.isnan(y[0, 0, 0, 0])


def test_conv_without_input_grad_gives_the_same_parameter_gradients():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 1, 9, 11)).astype(np.float32)
    full = Conv2d(1, 3, 3, padding=1, rng=np.random.default_rng(0))
    data_only = Conv2d(1, 3, 3, padding=1, rng=np.random.default_rng(0), input_grad=False)
    grad = rng.normal(size=full.forward(x).shape).astype(np.float32)
    data_only.forward(x)
    assert full.backward(grad) is not None
    assert data_only.backward(grad) is None
    np.testing.assert_array_equal(data_only.weight.grad, full.weight.grad)
    np.testing.assert_array_equal(data_only.bias.grad, full.bias.grad)


@pytest.mark.parametrize("c_in, c_out, kernel, padding, dilation, input_grad", [
    (32, 2, 3, 1, 1, True), (3, 1, 3, 0, 1, True), (4, 3, (3, 2), (2, 1), (2, 1), True),
    (5, 16, 1, 0, 1, True), (2, 2, 3, 1, 2, False)])
def test_shifted_product_path_equals_im2col(c_in, c_out, kernel, padding, dilation, input_grad):
    """Stride-1 layers with few (tap, output channel) pairs take the shifted-product path."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, c_in, 7, 9))
    layers = []
    for shifted in (True, False):
        layer = Conv2d(c_in, c_out, kernel, padding=padding, dilation=dilation, rng=np.random.default_rng(1),
                       dtype=np.float64, input_grad=input_grad)
        layer._shifted_path = shifted
        layers.append(layer)
    assert layers[0]._shifted() and not layers[1]._shifted()
    outputs = [layer.forward(x) for layer in layers]
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-12, atol=1e-12)
    grad = rng.normal(size=outputs[0].shape)
    grads = [layer.backward(grad) for layer in layers]
    if input_grad:
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-12)
    else:
        assert grads == [None, None]
    np.testing.assert_allclose(layers[0].weight.grad, layers[1].weight.grad, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layers[0].bias.grad, layers[1].bias.grad, rtol=1e-12, atol=1e-12)
