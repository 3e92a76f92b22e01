"""Chapter 1 — gradients.  Fill in each function, then: python course/check.py 1"""
import nnscratch as nn


def cube(x):
    """Exercise 1: f(x) = x³ - 2x."""
    raise NotImplementedError


def cube_derivative(x):
    """Exercise 1: f'(x), by hand."""
    raise NotImplementedError


def best_step_float32() -> float:
    """Exercise 1: the step h at which the float32 central difference of ``cube`` at x = 1 is most accurate."""
    raise NotImplementedError


class LeakyReLU(nn.Module):
    """Exercise 2: y = x for x > 0, slope * x otherwise; forward and backward."""

    def __init__(self, slope: float = 0.1):
        super().__init__()
        self.slope = slope

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad_output):
        raise NotImplementedError


class Reverse(nn.Module):
    """Exercise 3: y = x reversed along its last axis — with a *wrong* backward that an all-ones
    upstream gradient cannot tell from the right one (nnscratch.gradcheck's random one can)."""

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad_output):
        raise NotImplementedError
