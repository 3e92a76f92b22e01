"""A tour of gradient checking: how we know every hand-written backward pass is right.

Run:  python examples/gradient_check_tour.py
"""
import numpy as np

import nnscratch as nn
from nnscratch import gradcheck
from nnscratch.checks import main as gradcheck_table

rng = np.random.default_rng(0)

# 1. One convolution layer.  gradcheck perturbs every input and weight element by ±h,
#    measures how sum(upstream * output) changes, and compares with what backward() says.
conv = nn.Conv2d(3, 4, kernel_size=3, padding=1, rng=rng)
x = rng.normal(size=(2, 3, 6, 6))
print("Conv2d, float64:", {k: f"{v:.1e}" for k, v in gradcheck(conv, x).items()})

# 2. The same check in float32: rounding error in the difference quotient is about
#    eps_float32 * |loss| / h, far above the ~1e-10 that float64 reaches.
print("Conv2d, float32:", {k: f"{v:.1e}" for k, v in gradcheck(conv, x, dtype=np.float32).items()})

# 3. A deliberately wrong backward is caught at once.
class BrokenSigmoid(nn.Sigmoid):
    def backward(self, grad_output):
        return grad_output * self._output  # missing the (1 - y) factor

print("BrokenSigmoid:  ", {k: f"{v:.1e}" for k, v in gradcheck(BrokenSigmoid(), rng.normal(size=(3, 4))).items()})

# 4. ReLU has a kink at 0 where the derivative jumps: a central difference taken across
#    it is meaningless, so checks keep inputs at least 0.1 away from 0.
print("ReLU near kinks:", gradcheck(nn.ReLU(), np.array([[1e-7, -1e-7, 0.5]])))
print("ReLU away:      ", gradcheck(nn.ReLU(), np.array([[0.3, -0.2, 0.5]])))

# 5. Every layer and loss, and an 18-hidden-layer network end to end.
print()
raise SystemExit(gradcheck_table([]))
