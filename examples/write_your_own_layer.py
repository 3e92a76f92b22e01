"""Write your own layer: forward, backward, parameters, and the gradient check that proves it.

The layer is a per-channel scale and shift followed by softplus,

    y = softplus(a_c * x + b_c) = log(1 + exp(a_c * x + b_c))

with one learnable (a, b) pair per channel.  Its derivative is
softplus'(z) = sigmoid(z), so with z = a x + b and g = dL/dy:

    dL/dx = g * sigmoid(z) * a
    dL/da = sum over batch and pixels of g * sigmoid(z) * x
    dL/db = sum over batch and pixels of g * sigmoid(z)

Three rules: keep in forward what backward needs; *add* parameter gradients
with ``Parameter.accumulate`` (a parameter may be used twice); return the
input gradient.  Then let the numerical gradient check judge.

Run:  python examples/write_your_own_layer.py
"""
import numpy as np

import nnscratch as nn


class ScaledSoftplus(nn.Module):
    """``y = softplus(a_c x + b_c)`` on (N, C, H, W) inputs, a and b of shape (C,)."""

    def __init__(self, channels: int):
        super().__init__()
        self.scale = nn.Parameter(np.ones(channels, dtype=np.float32))     # a
        self.shift = nn.Parameter(np.zeros(channels, dtype=np.float32))    # b

    def forward(self, x):
        self.x = x
        self.z = self.scale.data[:, None, None] * x + self.shift.data[:, None, None]
        return np.logaddexp(0, self.z)                                      # log(1 + e^z), stable

    def backward(self, grad_output):
        slope = grad_output / (1 + np.exp(-self.z))                         # g * sigmoid(z)
        self.scale.accumulate((slope * self.x).sum(axis=(0, 2, 3)))
        self.shift.accumulate(slope.sum(axis=(0, 2, 3)))
        return slope * self.scale.data[:, None, None]


layer = ScaledSoftplus(3)
layer.scale.data[:] = [0.5, 1.0, 2.0]                       # something other than the identity
x = np.random.default_rng(0).normal(size=(2, 3, 5, 5))
errors = nn.gradcheck(layer, x)                             # float64 central differences
for name, error in errors.items():
    print(f"{name:>6}: worst relative error {error:.1e}")
print(nn.verdict(errors))

# The same check catches a mistake: forget the chain rule's factor a in dL/dx.
class Forgetful(ScaledSoftplus):
    def backward(self, grad_output):
        super().backward(grad_output)
        return grad_output / (1 + np.exp(-self.z))           # wrong: missing * a


wrong = Forgetful(3)
wrong.scale.data[:] = [0.5, 1.0, 2.0]
print("with a bug:", nn.verdict(nn.gradcheck(wrong, x)))

# And it trains like any built-in layer: fit y = softplus(2x - 1) in every channel.
model, target_layer = ScaledSoftplus(3), ScaledSoftplus(3)
target_layer.scale.data[:], target_layer.shift.data[:] = 2.0, -1.0
optimizer = nn.Adam(model.parameters(), lr=0.05)
criterion = nn.MSELoss()
for step in range(300):
    batch = np.random.default_rng(step).normal(size=(4, 3, 4, 4)).astype(np.float32)
    optimizer.zero_grad()
    loss = criterion.forward(model.forward(batch), target_layer.forward(batch))
    model.backward(criterion.backward())
    optimizer.step()
print(f"learned a = {np.round(model.scale.data, 3)}, b = {np.round(model.shift.data, 3)} (target 2, -1); "
      f"loss {loss:.2e}")
