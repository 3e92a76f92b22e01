"""Worked answers, chapter 7."""
import numpy as np

import nnscratch as nn


class BrightnessOffset(nn.Module):
    def __init__(self, offset: float = 0.0):
        super().__init__()
        self.offset = nn.Parameter(np.array([offset], dtype=np.float64))
        self._inside = None

    def forward(self, x):
        shifted = x + self.offset.data[0]
        self._inside = (shifted > 0) & (shifted < 1)
        return np.clip(shifted, 0, 1)

    def backward(self, grad_output):
        passed = grad_output * self._inside
        self.offset.accumulate(np.array([passed.sum()]))
        return passed
