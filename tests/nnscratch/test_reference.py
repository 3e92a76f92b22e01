"""The fast layers equal the textbook versions in nnscratch.reference (conv has its own, hypothesis-driven file)."""
import numpy as np
import pytest

from nnscratch import Adam, AvgPool2d, BatchNorm2d, MaxPool2d, Parameter, Upsample
from nnscratch import reference as ref


def rng(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("kernel, stride, padding", [((2, 2), (2, 2), (0, 0)), ((3, 3), (2, 2), (1, 1)),
                                                     ((3, 2), (1, 2), (1, 0))])
def test_max_pool_equals_the_loop_definition(kernel, stride, padding):
    x = rng(1).permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) / 10.0            # distinct values: no ties
    layer = MaxPool2d(kernel, stride, padding)
    y = layer.forward(x)
    expected, where = ref.max_pool2d(x, kernel, stride, padding)
    np.testing.assert_array_equal(y, expected)
    grad = rng(2).normal(size=y.shape)
    np.testing.assert_allclose(layer.backward(grad), ref.max_pool2d_backward(x.shape, where, grad), rtol=0, atol=1e-15)


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool_equals_the_loop_definition(count_include_pad):
    x = rng(3).normal(size=(2, 3, 7, 6))
    layer = AvgPool2d(3, 2, 1, count_include_pad=count_include_pad)
    y = layer.forward(x)
    args = ((3, 3), (2, 2), (1, 1), count_include_pad)
    np.testing.assert_allclose(y, ref.avg_pool2d(x, *args), rtol=1e-13, atol=1e-15)
    grad = rng(4).normal(size=y.shape)
    np.testing.assert_allclose(layer.backward(grad), ref.avg_pool2d_backward(x.shape, grad, *args), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("options", [dict(scale_factor=2), dict(scale_factor=2, mode="bilinear"),
                                     dict(size=(7, 5), mode="bilinear"), dict(size=(7, 5), mode="bilinear", align_corners=True),
                                     dict(size=(5, 9))])
def test_upsample_equals_the_loop_definition(options):
    x = rng(5).normal(size=(2, 3, 4, 5))
    layer = Upsample(**options)
    y = layer.forward(x)
    scale = (options.get("scale_factor"),) * 2
    mode, corners = options.get("mode", "nearest"), options.get("align_corners", False)
    np.testing.assert_allclose(y, ref.upsample(x, y.shape[2:], scale, mode, corners), rtol=1e-13, atol=1e-15)
    grad = rng(6).normal(size=y.shape)
    np.testing.assert_allclose(layer.backward(grad), ref.upsample_backward(x.shape, grad, scale, mode, corners),
                               rtol=1e-13, atol=1e-14)


def test_batch_norm_equals_the_staged_graph():
    x = rng(7).normal(2.0, 3.0, size=(4, 3, 5, 6))
    layer = BatchNorm2d(3).double()
    layer.weight.data = rng(8).uniform(0.5, 1.5, 3)
    layer.bias.data = rng(9).normal(size=3)
    y = layer.forward(x)
    expected, stages = ref.batch_norm(x, layer.weight.data, layer.bias.data, layer.eps)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    grad = rng(10).normal(size=y.shape)
    dx, dw, db = ref.batch_norm_backward(grad, stages)
    np.testing.assert_allclose(layer.backward(grad), dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, dw, rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, db, rtol=1e-12)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_equals_the_papers_algorithm(weight_decay):
    grads = list(rng(11).normal(size=(20, 4, 3)))
    param = Parameter(rng(12).normal(size=(4, 3)))
    start = param.data.copy()
    optimizer = Adam([param], lr=0.01, weight_decay=weight_decay)
    for g in grads:
        param.grad = g.copy()
        optimizer.step()
    np.testing.assert_allclose(param.data, ref.adam(start, grads, lr=0.01, weight_decay=weight_decay),
                               rtol=1e-12, atol=1e-14)
