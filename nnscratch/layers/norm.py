"""Batch normalisation over the channels of NCHW activations."""
from __future__ import annotations

import copy
import itertools

import numpy as np

from ..backend import DEFAULT_DTYPE, get_array_module, uses_cpu_strategy
from ..module import Identity, Module, Parameter, Sequential, check_grad_output, check_input
from . import device
from .conv import Conv2d
from .layout import nhwc_rows, rows_to_nchw


class BatchNorm2d(Module):
    """``y = (x - mean) / sqrt(var + eps) * weight + bias``, per channel.

    Training uses the batch's mean and biased variance over (N, H, W) and
    updates ``running_mean`` / ``running_var`` exactly as PyTorch does
    (``running = (1 - momentum) running + momentum * batch``, with the
    *unbiased* batch variance; ``momentum=None`` gives the cumulative
    average).  Evaluation uses the running statistics.

    Backward in training, with ``x̂`` the normalised input and ``g`` the output
    gradient per channel over the ``M = N*H*W`` values:

        dx = weight / sqrt(var + eps) * (g - mean(g) - x̂ mean(g x̂))

    On NumPy each pass goes through the activations a cache-sized chunk at a time; on any other
    array module (a GPU) it is a few whole-array operations (:meth:`_forward_device`,
    :meth:`_backward_device`).

    Textbook version: ``nnscratch.reference.batch_norm`` and ``nnscratch.reference.batch_norm_backward`` (the staged graph);
    proven equal in the tests.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype=DEFAULT_DTYPE):
        super().__init__()
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(self.num_features, dtype=dtype))
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))
        self._cache = None
        self.reduce = None          # see set_reduce

    def set_reduce(self, reduce) -> None:
        """The hook for batches split over processes: ``reduce(array) -> array`` sums a per-channel
        array over every process (the batch's sums, sums of squares and gradient sums), so that the
        statistics are those of the whole batch (:func:`nnscratch.distributed.synchronize_batch_norm`
        sets it).  None, the default: this process's batch is the whole batch."""
        self.reduce = reduce

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"

    def forward(self, x):
        check_input(self, x, 4, self.num_features)
        xp = get_array_module(x)
        if not uses_cpu_strategy(xp):
            return self._forward_device(x)
        n, c, h, w = x.shape
        rows = nhwc_rows(x)
        count = rows.shape[0]
        # Column sums as a matrix-vector product: one BLAS pass instead of a strided reduction.
        ones = xp.ones(count, dtype=x.dtype)
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            sums = ones @ rows
            if self.reduce is not None:       # the whole batch's sums and count, over every process
                totals = self.reduce(xp.concatenate([sums, xp.asarray([count], dtype=sums.dtype)]))
                sums, count = totals[:c], int(round(float(totals[c])))
            if count < 2:
                raise ValueError(f"BatchNorm2d needs more than one value per channel in training, got shape {tuple(x.shape)}")
            mean = sums / count
            centered = xp.empty_like(rows)
            squares = xp.zeros(c, dtype=rows.dtype)
            for start, stop, square in _chunks(rows, xp):     # centre and sum the squares while in cache
                xp.subtract(rows[start:stop], mean, out=centered[start:stop])
                xp.multiply(centered[start:stop], centered[start:stop], out=square)
                squares += ones[:stop - start] @ square
            if self.reduce is not None:
                squares = self.reduce(squares)
            var = squares / count
            if self.training and self.track_running_stats:
                self._update_running(mean, var, count)
        else:
            # Evaluation: one affine pass, y = x * scale + (bias - mean * scale); backward centres
            # the kept input chunk by chunk when it needs x - mean (for the weight's gradient).
            mean, var = self.running_mean, self.running_var
        inv_std = 1.0 / xp.sqrt(var + self.eps)
        # y = centered * (weight / std) + bias: the normalised x̂ = centered / std is never stored;
        # backward works from ``centered`` (the input itself in evaluation) and ``inv_std``.
        scale = inv_std * self.weight.data if self.affine else inv_std
        bias = self.bias.data if self.affine else 0
        source, shift = (centered, bias) if use_batch else (rows, bias - mean * scale)
        out = xp.empty_like(rows)
        for start, stop, _ in _chunks(rows, xp, scratch=False):
            xp.multiply(source[start:stop], scale, out=out[start:stop])
            out[start:stop] += shift
        self._cache = (source, inv_std, use_batch, x.shape, count, None if use_batch else mean)
        return rows_to_nchw(out, n, h, w)

    def _forward_device(self, x):
        """The device strategy: about 12 whole-array operations in training, 4 in evaluation."""
        n, c, h, w = x.shape
        rows = nhwc_rows(x)
        use_batch = self.training or not self.track_running_stats
        weight, bias = (self.weight.data, self.bias.data) if self.affine else (None, None)
        if use_batch:
            mean, source, var, count = device.batch_norm_statistics(rows, self.reduce)
            if count < 2:
                raise ValueError(f"BatchNorm2d needs more than one value per channel in training, got shape {tuple(x.shape)}")
            if self.training and self.track_running_stats:
                self.num_batches_tracked += 1
                factor = (1.0 / float(self.num_batches_tracked)) if self.momentum is None else self.momentum
                self.running_mean, self.running_var = device.update_running(
                    self.running_mean, self.running_var, mean, var, count, factor)
        else:
            mean, var, source, count = self.running_mean, self.running_var, rows, rows.shape[0]
        out, inv_std = device.batch_norm_normalize(source, mean, var, self.eps, weight, bias, use_batch)
        self._cache = (source, inv_std, use_batch, x.shape, count, None if use_batch else mean)
        return rows_to_nchw(out, n, h, w)

    def _backward_device(self, grad_output):
        centered, inv_std, use_batch, (n, c, h, w), count, eval_mean = self._cache
        weight = self.weight.data if self.affine else None
        grad_weight, grad_bias, grad_input = device.batch_norm_backward(
            nhwc_rows(grad_output), centered, inv_std, weight, count, use_batch, eval_mean, self.reduce)
        if self.affine:
            self.weight.accumulate(grad_weight)
            self.bias.accumulate(grad_bias)
        return rows_to_nchw(grad_input, n, h, w)

    def _update_running(self, mean, var, count):
        self.num_batches_tracked += 1  # in place: stays a 0-d array
        factor = (1.0 / float(self.num_batches_tracked)) if self.momentum is None else self.momentum
        unbiased = var * (count / (count - 1))
        self.running_mean = self.running_mean * (1 - factor) + mean * factor
        self.running_var = self.running_var * (1 - factor) + unbiased * factor

    def backward(self, grad_output):
        check_grad_output(self, grad_output, None if self._cache is None else self._cache[3])
        xp = get_array_module(grad_output)
        if not uses_cpu_strategy(xp):
            return self._backward_device(grad_output)
        centered, inv_std, use_batch, (n, c, h, w), count, eval_mean = self._cache
        grad_rows = nhwc_rows(grad_output)
        ones = xp.ones(grad_rows.shape[0], dtype=grad_rows.dtype)
        grad_bias = ones @ grad_rows                 # sum of g per channel
        products = xp.zeros(c, dtype=grad_rows.dtype)
        for start, stop, product in _chunks(grad_rows, xp):
            if eval_mean is None:
                xp.multiply(grad_rows[start:stop], centered[start:stop], out=product)
            else:                                    # evaluation kept the input: centre it here
                xp.subtract(centered[start:stop], eval_mean, out=product)
                product *= grad_rows[start:stop]
            products += ones[:stop - start] @ product
        grad_weight = products * inv_std             # sum of g x̂ per channel
        if self.affine:     # this process's share; nnscratch.distributed averages parameter gradients
            self.weight.accumulate(grad_weight)
            self.bias.accumulate(grad_bias)
            scale = self.weight.data * inv_std
        else:
            scale = inv_std
        if self.reduce is not None and use_batch:    # the means below are over the whole batch
            totals = self.reduce(xp.concatenate([grad_bias, products]))
            grad_bias, grad_weight = totals[:c], totals[c:] * inv_std
        grad_input = xp.empty_like(grad_rows)
        # dx = scale (g - mean(g) - x̂ mean(g x̂)), with x̂ = centered * inv_std
        slope = scale * inv_std * grad_weight / count
        offset = scale * grad_bias / count
        for start, stop, correction in _chunks(grad_rows, xp):
            part = grad_input[start:stop]
            xp.multiply(grad_rows[start:stop], scale, out=part)
            if use_batch:
                xp.multiply(centered[start:stop], slope, out=correction)
                correction += offset
                part -= correction
        return rows_to_nchw(grad_input, n, h, w)


def update_batch_norm(model: Module, batches) -> int:
    """Recompute the running statistics of every ``BatchNorm2d`` in ``model`` from ``batches``.

    Each statistic becomes the plain average over the given batches (the cumulative average,
    ``momentum=None``) of the batch means and unbiased variances, computed with the weights the
    model has *now* — as ``torch.optim.swa_utils.update_bn`` does.  Use it after changing the
    weights without training them, e.g. for a moving average or a blend of weights: statistics
    gathered while training belong to the weights of those steps, not to the average.
    ``batches`` is an iterable of model inputs (forward only: nothing is learned); the
    momentum of each layer and the model's mode (training or evaluation) are restored.
    Returns the number of batches used; raises ``ValueError`` for none (the statistics untouched).
    """
    layers = [module for _, module in model.named_modules()
              if isinstance(module, BatchNorm2d) and module.track_running_stats]
    iterator = iter(batches)
    first = next(iterator, None)
    if first is None:
        raise ValueError("update_batch_norm needs at least one batch")
    if not layers:
        return 0
    modes = {id(module): module.training for _, module in model.named_modules()}
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        xp = get_array_module(layer.running_mean)
        layer.running_mean = xp.zeros_like(layer.running_mean)
        layer.running_var = xp.ones_like(layer.running_var)
        layer.num_batches_tracked[...] = 0
        layer.momentum = None
    count = 0
    try:
        model.train()
        for batch in itertools.chain((first,), iterator):
            model.forward(batch)
            count += 1
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
        for _, module in model.named_modules():
            object.__setattr__(module, "training", modes[id(module)])
    return count

def fold_batch_norm(model: Module) -> Module:
    """A copy of ``model`` for inference, each batch norm that follows a convolution folded into it.

    In evaluation a ``BatchNorm2d`` is an affine map per channel, ``y = x * scale + shift`` with
    ``scale = weight / sqrt(running_var + eps)`` and ``shift = bias - running_mean * scale``; after
    a ``Conv2d`` that map is the convolution's own with ``weight * scale`` (per output channel)
    and ``bias * scale + shift``.  Every such pair in a ``Sequential`` becomes one convolution and
    an :class:`nnscratch.module.Identity` (so layer positions stay where they were).  The copy is
    in evaluation mode; ``model`` is not changed.  Equal to the unfolded network up to float
    rounding; on a GPU it saves the batch norm's passes over every activation.
    """
    folded = copy.deepcopy(model).eval()
    for _, container in folded.named_modules():
        if not isinstance(container, Sequential):
            continue
        names = list(container._modules)
        for first, second in zip(names, names[1:]):
            conv, norm = container._modules[first], container._modules[second]
            if not (isinstance(conv, Conv2d) and isinstance(norm, BatchNorm2d) and norm.track_running_stats):
                continue
            xp = get_array_module(conv.weight.data)
            scale = 1.0 / xp.sqrt(norm.running_var + norm.eps)
            if norm.affine:
                scale = scale * norm.weight.data
            shift = -norm.running_mean * scale + (norm.bias.data if norm.affine else 0)
            conv.weight.data = conv.weight.data * scale.reshape(-1, 1, 1, 1)
            if conv.bias is None:
                conv.bias = Parameter(shift.astype(conv.weight.data.dtype))
            else:
                conv.bias.data = conv.bias.data * scale + shift
            container._modules[second] = Identity()
            object.__setattr__(container, second, container._modules[second])
    return folded


# Elementwise passes go through the activations this many values at a time, so
# that the intermediate results of one chunk stay in cache.
CHUNK_VALUES = 1 << 16


def _chunks(rows, xp, scratch: bool = True):
    """``(start, stop, buffer)`` over the rows of a ``(M, C)`` matrix, ``buffer`` a reused scratch chunk."""
    step = max(CHUNK_VALUES // rows.shape[1], 1)
    buffer = xp.empty((min(step, rows.shape[0]), rows.shape[1]), dtype=rows.dtype) if scratch else None
    for start in range(0, rows.shape[0], step):
        stop = min(rows.shape[0], start + step)
        yield start, stop, (buffer[:stop - start] if scratch else None)
