"""Chapter 1 — Gradients, and how to prove a backward pass right.

A derivative you work out by hand can be checked with nothing but the function itself:

    f'(x) ≈ (f(x + h) - f(x - h)) / (2h)          (central difference, error O(h²))

Too large an h and the O(h²) truncation dominates; too small and rounding does (each f is
rounded to about ε = 1e-16 in float64, and the division by 2h magnifies that to ε|f|/h).  The
figure shows both arms of that V.  nnscratch's gradcheck does exactly this for every element of
every input and parameter of a layer.

Run:  python course/01_gradients.py [--out FOLDER]

Exercises (code answers go in course/answers/chapter1.py; check them: python course/check.py 1)
1. Write f(x) = x³ - 2x and its derivative; find the h with the smallest error in float32.
2. Write LeakyReLU's backward (a layer with forward and backward, as in
   examples/write_your_own_layer.py) and pass nnscratch.gradcheck with it.
3. Why does gradcheck feed a random upstream gradient instead of all ones?  Break a backward
   so that an all-ones check passes and the random one fails.
"""
import numpy as np
from matplotlib.figure import Figure

import nnscratch as nn
from _common import figure_folder, save

out = figure_folder(__doc__.splitlines()[0])


def f(x):
    return np.sin(x) * x ** 2


def f_prime(x):                     # by hand: the product rule
    return np.cos(x) * x ** 2 + 2 * x * np.sin(x)


x = 1.3
steps = np.logspace(-14, -1, 40)
errors = {dtype.__name__: [abs((f(dtype(x) + dtype(h)) - f(dtype(x) - dtype(h))) / (2 * dtype(h)) - f_prime(x))
                           for h in steps] for dtype in (np.float64, np.float32)}
best = steps[int(np.argmin(errors["float64"]))]
print(f"f'(1.3) = {f_prime(x):.12f}; the central difference is best at h = {best:.0e} "
      f"(error {min(errors['float64']):.1e}) in float64, {min(errors['float32']):.1e} at best in float32")

figure = Figure(figsize=(6, 4), layout="constrained")
axes = figure.add_subplot()
for name, values in errors.items():
    axes.loglog(steps, np.maximum(values, 1e-17), label=name)
axes.set_xlabel("step h")
axes.set_ylabel("|central difference - f'(x)|")
axes.set_title("truncation (right) against rounding (left)")
axes.legend()
save(figure, out, "01_gradient_error.png")

# The same check on a layer: every input element perturbed by ±h, in float64.
rng = np.random.default_rng(0)
errors = nn.gradcheck(nn.Tanh(), rng.normal(size=(2, 3, 4, 4)))
print(f"Tanh layer: worst relative error {max(errors.values()):.1e} (passes below 1e-7)")
errors = nn.gradcheck(nn.Conv2d(2, 3, 3, padding=1, rng=rng), rng.normal(size=(2, 2, 5, 5)))
print("Conv2d layer:", {name: f"{value:.1e}" for name, value in errors.items()})
print("chapter 1 done")
