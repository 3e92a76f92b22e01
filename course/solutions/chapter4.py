"""Worked answers, chapter 4."""
import numpy as np


def batch_norm_eval_backward(grad_output, weight, running_var, eps):
    # In evaluation y = x * scale + shift with fixed statistics: dx = dy * scale, per channel.
    return grad_output * (weight / np.sqrt(running_var + eps)).reshape(1, -1, 1, 1)
