"""Loss functions: ``loss = criterion.forward(pred, target)`` (a Python float),
then ``grad_pred = criterion.backward()``.

``criterion.compute(pred, target)`` is the same loss as a 0-d array on the prediction's device:
a training loop on a GPU reads it back (``float``, a wait for the device) only when it logs.

``reduction='mean'`` divides by the number of elements (for cross-entropy
with class indices: by the summed weights of the counted targets, as
PyTorch); ``'sum'`` does not divide.
"""
from __future__ import annotations

from .backend import get_array_module


def _check_reduction(reduction: str) -> str:
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    return reduction


def _check_pair(name, pred, target):
    for label, array in (("pred", pred), ("target", target)):
        if not hasattr(array, "dtype") or array.dtype.kind != "f":
            raise TypeError(f"{name}: {label} must be a floating-point array, got {getattr(array, 'dtype', type(array).__name__)}")
    if pred.shape != target.shape:
        raise ValueError(f"{name}: pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")


class Loss:
    """Base class: keeps what ``backward`` needs from the last ``forward``."""

    def __init__(self, reduction: str = "mean"):
        self.reduction = _check_reduction(reduction)
        self._grad = None

    def __call__(self, pred, target) -> float:
        return self.forward(pred, target)

    def forward(self, pred, target) -> float:
        """The loss as a Python float (on a GPU this waits for the device; :meth:`compute` does not)."""
        return float(self.compute(pred, target))

    def compute(self, pred, target):
        """The loss as a 0-d array on the prediction's device; keeps the gradient for :meth:`backward`."""
        raise NotImplementedError(f"{type(self).__name__} must implement compute(pred, target) -> 0-d array")

    def _reduce(self, values, count):
        total = values.sum()
        return total / count if self.reduction == "mean" else total

    def _scale(self, count):
        return 1.0 / count if self.reduction == "mean" else 1.0

    def backward(self):
        """Gradient of the last loss with respect to ``pred`` (same shape and dtype)."""
        if self._grad is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._grad

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reduction={self.reduction!r})"


class MSELoss(Loss):
    """``mean((pred - target)²)``;  ``d pred = 2 (pred - target) / M``."""

    def compute(self, pred, target):
        _check_pair("MSELoss", pred, target)
        diff = pred - target
        self._grad = diff * (2.0 * self._scale(diff.size))
        return self._reduce(diff * diff, diff.size)


class L1Loss(Loss):
    """``mean(|pred - target|)``;  ``d pred = sign(pred - target) / M`` (0 at 0)."""

    def compute(self, pred, target):
        _check_pair("L1Loss", pred, target)
        xp = get_array_module(pred)
        diff = pred - target
        self._grad = xp.sign(diff) * self._scale(diff.size)
        return self._reduce(xp.abs(diff), diff.size)


class SmoothL1Loss(Loss):
    """Huber-like loss: ``0.5 d² / beta`` where ``|d| < beta``, else ``|d| - beta / 2``.

    Gradient ``d / beta`` inside, ``sign(d)`` outside.  ``beta = 0`` is L1.
    """

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.beta = float(beta)

    def compute(self, pred, target):
        _check_pair("SmoothL1Loss", pred, target)
        xp = get_array_module(pred)
        diff = pred - target
        size = xp.abs(diff)
        if self.beta == 0:
            values, grad = size, xp.sign(diff)
        else:
            inside = size < self.beta
            values = xp.where(inside, 0.5 * diff * diff / self.beta, size - 0.5 * self.beta)
            grad = xp.where(inside, diff / self.beta, xp.sign(diff))
        self._grad = grad * self._scale(diff.size)
        return self._reduce(values, diff.size)


class LogMSELoss(Loss):
    """The mean over samples of each sample's log mean squared error: ``mean_i log(m_i + eps)``
    with ``m_i = mean_j (pred_ij - target_ij)²`` over everything but the batch axis.

    Averaged PSNR is this loss up to sign and scale (``PSNR_i = 10 log10(peak² / m_i)``), so a
    network trained with it is scored per image as an image-wise PSNR mean would score it: a
    sample whose target is nearly matched by a trivial prediction (a colourless photo for a
    colorizer) weighs as much as one with large errors, instead of vanishing beside it as under
    the plain MSE.  ``eps`` (> 0) keeps the loss finite and its gradient bounded where ``m_i`` is 0.
    ``d pred_ij = 2 (pred_ij - target_ij) / (M (m_i + eps))``, divided by N for ``'mean'``.
    """

    def __init__(self, reduction: str = "mean", eps: float = 1e-3):
        super().__init__(reduction)
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.eps = float(eps)

    def compute(self, pred, target):
        _check_pair("LogMSELoss", pred, target)
        if pred.ndim < 2:
            raise ValueError(f"LogMSELoss: pred must have a batch axis and at least one more, got shape {tuple(pred.shape)}")
        xp = get_array_module(pred)
        diff = pred - target
        per_sample = diff.size // diff.shape[0]
        axes = tuple(range(1, diff.ndim))
        error = (diff * diff).mean(axis=axes, keepdims=True) + self.eps
        self._grad = diff * (2.0 * self._scale(diff.shape[0]) / per_sample) / error
        return self._reduce(xp.log(error), diff.shape[0])

    def __repr__(self) -> str:
        return f"LogMSELoss(reduction={self.reduction!r}, eps={self.eps})"


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy over axis 1, per position.

    ``logits`` are ``(N, C)`` or ``(N, C, d1, d2, ...)`` (per-pixel
    classification, e.g. over colour bins).  ``target`` is either integer
    class indices of shape ``(N, d1, ...)`` (entries equal to
    ``ignore_index`` are skipped) or class probabilities of the logits' shape
    (soft targets).  ``weight`` (C,) rescales each class.

    With ``p = softmax(logits)`` and ``w`` the weights:
        class indices:  loss = -w[t] log p[t];   d logits = w[t] (p - onehot(t))
        soft targets:   loss = -sum_c w_c t_c log p_c;  d logits = p sum_c w_c t_c - w t
    """

    def __init__(self, weight=None, reduction: str = "mean", ignore_index: int = -100):
        super().__init__(reduction)
        self.weight = weight
        self.ignore_index = int(ignore_index)

    def compute(self, logits, target):
        xp = get_array_module(logits)
        if not hasattr(logits, "dtype") or logits.dtype.kind != "f" or logits.ndim < 2:
            raise TypeError("CrossEntropyLoss: logits must be a floating array of shape (N, C, ...)")
        n_classes = logits.shape[1]
        weight = None
        if self.weight is not None:
            weight = xp.asarray(self.weight, dtype=logits.dtype)
            if weight.shape != (n_classes,):
                raise ValueError(f"CrossEntropyLoss: weight must have shape ({n_classes},), got {tuple(weight.shape)}")
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = xp.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        log_prob = shifted - xp.log(total)
        prob = exp / total
        class_shape = (1, n_classes) + (1,) * (logits.ndim - 2)
        if hasattr(target, "dtype") and target.dtype.kind == "f":
            if target.shape != logits.shape:
                raise ValueError(f"CrossEntropyLoss: soft targets must have the logits' shape {tuple(logits.shape)}, "
                                 f"got {tuple(target.shape)}")
            weighted = target if weight is None else target * weight.reshape(class_shape)
            losses = -(weighted * log_prob).sum(axis=1)
            count = losses.size
            grad = prob * weighted.sum(axis=1, keepdims=True) - weighted
        elif hasattr(target, "dtype") and target.dtype.kind in "iu":
            expected = (logits.shape[0],) + tuple(logits.shape[2:])
            if tuple(target.shape) != expected:
                raise ValueError(f"CrossEntropyLoss: class targets must have shape {expected}, got {tuple(target.shape)}")
            valid = target != self.ignore_index
            safe = xp.where(valid, target, 0)
            if target.size and (int(safe.min()) < 0 or int(safe.max()) >= n_classes):
                raise ValueError(f"CrossEntropyLoss: class targets must lie in [0, {n_classes - 1}] "
                                 f"(or equal ignore_index={self.ignore_index})")
            picked = xp.take_along_axis(log_prob, xp.expand_dims(safe, 1), axis=1).squeeze(1)
            target_weight = valid.astype(logits.dtype)
            if weight is not None:
                target_weight = target_weight * weight[safe]
            losses = -picked * target_weight
            count = target_weight.sum()
            onehot = xp.arange(n_classes).reshape(class_shape) == xp.expand_dims(safe, 1)
            grad = (prob - onehot) * xp.expand_dims(target_weight, 1)
        else:
            raise TypeError("CrossEntropyLoss: target must be integer class indices or float probabilities")
        self._grad = grad * self._scale(count)
        return self._reduce(losses, count)

    def __repr__(self) -> str:
        return f"CrossEntropyLoss(reduction={self.reduction!r}, weighted={self.weight is not None})"
