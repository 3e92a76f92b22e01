"""Check your answers to a chapter's code exercises (in course/answers/chapterN.py).

Run:  python course/check.py N            (N = 1 … 7; --answers FOLDER to check another folder)

Each check compares your code with the engine, a reference library function or a numerical
derivative; it says "passed", "not done yet" (the function still raises NotImplementedError) or
what is wrong.  It exits 0 when every exercise of the chapter passes.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import nnscratch as nn  # noqa: E402


class Wrong(AssertionError):
    """The answer runs but computes something else."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Wrong(message)


def close(ours, theirs, tolerance: float, what: str) -> None:
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    expect(ours.shape == theirs.shape, f"{what}: shape {ours.shape}, expected {theirs.shape}")
    worst = float(np.max(np.abs(ours - theirs) / (np.abs(theirs) + 1e-8))) if ours.size else 0.0
    expect(worst <= tolerance, f"{what}: off by a relative {worst:.1e} (at most {tolerance:.0e} expected)")


# -- chapter 1 -------------------------------------------------------------------------------------

def chapter1_derivative(answers):
    x = np.linspace(-2, 2, 9)
    close(answers.cube(x), x ** 3 - 2 * x, 1e-12, "f(x)")
    step = 1e-6
    close(answers.cube_derivative(x), (answers.cube(x + step) - answers.cube(x - step)) / (2 * step), 1e-6, "f'(x)")
    h = float(answers.best_step_float32())
    steps = np.logspace(-6, -1, 51)

    def error(step):
        one, s = np.float32(1.0), np.float32(step)
        return abs(float((answers.cube(one + s) - answers.cube(one - s)) / (2 * s)) - 1.0)
    best = min(error(s) for s in steps)
    expect(error(h) <= 3 * best + 1e-7, f"h = {h:.1e} gives a float32 error of {error(h):.1e}; the best step gives "
                                        f"{best:.1e}: try steps between 1e-6 and 1e-1")


def chapter1_leaky_relu(answers):
    layer = answers.LeakyReLU(0.1)
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5))
    close(layer.forward(x), nn.LeakyReLU(0.1).forward(x), 1e-12, "forward")
    errors = nn.gradcheck(answers.LeakyReLU(0.1), x)
    expect(max(errors.values()) < 1e-7, f"gradcheck: worst relative error {max(errors.values()):.1e} (below 1e-7 passes)")


def chapter1_all_ones(answers):
    x = np.random.default_rng(1).normal(size=(2, 6))
    layer = answers.Reverse()
    close(layer.forward(x), x[..., ::-1], 1e-12, "forward (x reversed along the last axis)")
    ones = np.ones_like(x)
    layer.forward(x)
    claimed = layer.backward(ones)
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):       # d/dx of sum(ones * forward(x)), by central differences
        shifted = x.copy()
        shifted[index] += 1e-6
        up = (ones * layer.forward(shifted)).sum()
        shifted[index] -= 2e-6
        numeric[index] = (up - (ones * layer.forward(shifted)).sum()) / 2e-6
    close(claimed, numeric, 1e-6, "with an all-ones upstream gradient the backward should pass")
    errors = nn.gradcheck(answers.Reverse(), x)
    expect(errors["input"] > 1e-3, "nnscratch.gradcheck passes this backward: it is not broken yet")


# -- chapter 2 -------------------------------------------------------------------------------------

def chapter2_softmax(answers):
    rng = np.random.default_rng(2)
    logits, labels = rng.normal(size=(5, 4)), rng.integers(0, 4, 5)

    def loss(z):
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -log_p[np.arange(len(labels)), labels].mean()
    numeric = np.zeros_like(logits)
    for index in np.ndindex(logits.shape):
        step = np.zeros_like(logits)
        step[index] = 1e-6
        numeric[index] = (loss(logits + step) - loss(logits - step)) / 2e-6
    close(answers.softmax_cross_entropy_grad(logits.copy(), labels), numeric, 1e-6, "gradient")


# -- chapter 3 -------------------------------------------------------------------------------------

def chapter3_stride(answers):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 9, 8))
    layer = nn.Conv2d(3, 4, 3, stride=2, padding=1, rng=rng).double()
    rows = answers.im2col(x, 3, 1, 2) @ layer.weight.data.reshape(4, -1).T + layer.bias.data
    out_h, out_w = layer.output_size(9, 8)
    close(rows.reshape(2, out_h, out_w, 4).transpose(0, 3, 1, 2), layer.forward(x), 1e-10,
          "the convolution made with your im2col at stride 2")


def chapter3_col2im(answers):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 6, 5))
    cols = answers.im2col(x, 3, 1, 1)
    c = rng.normal(size=cols.shape)
    back = answers.col2im(c, x.shape, 3, 1)
    expect(back.shape == x.shape, f"col2im gives shape {back.shape}, expected {x.shape}")
    close(np.sum(back * x), np.sum(cols * c), 1e-10, "<x, col2im(c)> against <im2col(x), c>")


# -- chapter 4 -------------------------------------------------------------------------------------

def chapter4_eval_backward(answers):
    rng = np.random.default_rng(5)
    layer = nn.BatchNorm2d(3).double().eval()
    layer.weight.data[:] = rng.uniform(0.5, 2, 3)
    layer.running_var[:] = rng.uniform(0.5, 2, 3)
    x, grad = rng.normal(size=(2, 3, 4, 4)), rng.normal(size=(2, 3, 4, 4))
    layer.forward(x)
    close(answers.batch_norm_eval_backward(grad, layer.weight.data, layer.running_var, layer.eps), layer.backward(grad),
          1e-12, "input gradient in evaluation mode")


# -- chapter 5 -------------------------------------------------------------------------------------

def chapter5_without_colour(answers):
    from enhance.colorspace import lightness, rgb_to_lab

    rgb = np.random.default_rng(6).uniform(0, 1, (4, 5, 3)).astype(np.float64)
    gray = answers.without_colour(rgb)
    expect(gray.shape == rgb.shape, f"shape {gray.shape}, expected {rgb.shape}")
    spread = float(np.ptp(gray, axis=-1).max())
    expect(spread < 1e-3, f"R, G and B differ by up to {spread:.1e}: some colour is left")
    close(rgb_to_lab(gray)[..., 0], rgb_to_lab(rgb)[..., 0], 1e-6, "the lightness kept")
    close(lightness(gray[..., 0]), rgb_to_lab(rgb)[..., 0], 1e-4, "a gray level of that lightness")


def chapter5_heaviest(answers):
    from colorize import Colorizer
    from colorize.model import layer_table

    rows = layer_table(Colorizer())
    most_params = max(rows, key=lambda r: r["params"])["index"]
    most_flops = max(rows, key=lambda r: r["flops_per_megapixel"])["index"]
    given = tuple(answers.heaviest_layers())
    expect(given == (most_params, most_flops), f"got layers {given}: run 'colorize model-summary' and read its "
                                               "params and GFLOP/MP columns")


# -- chapter 6 -------------------------------------------------------------------------------------

def chapter6_clip(answers):
    import enhance

    gray = np.clip(np.random.default_rng(7).normal(90, 25, (64, 80)), 0, 255).astype(np.uint8)
    ours = np.asarray(answers.clip_limited_equalize(gray, 4.0))
    theirs = enhance.clahe(gray, clip_limit=4.0, tile_grid_size=1)
    expect(ours.shape == gray.shape and ours.dtype == np.uint8, f"a uint8 image of shape {gray.shape} expected")
    difference = np.abs(ours.astype(int) - theirs.astype(int))
    expect(difference.max() <= 2, f"up to {difference.max()} levels from enhance.clahe(tile_grid_size=1): clip at "
                                  "clip × the mean count, spread the excess over all 256 bins, then equalize")


# -- chapter 7 -------------------------------------------------------------------------------------

def chapter7_offset(answers):
    layer = answers.BrightnessOffset(0.2)
    x = np.random.default_rng(8).uniform(0, 1, (1, 3, 5, 5))
    close(layer.forward(x), np.clip(x + 0.2, 0, 1), 1e-12, "forward")
    expect(len(layer.parameters()) == 1, "one parameter, the offset, expected")
    errors = nn.gradcheck(answers.BrightnessOffset(0.2), x)
    expect(max(errors.values()) < 1e-5, f"gradcheck: worst relative error {max(errors.values()):.1e}")


CHECKS = {
    1: [(1, "f, f' and the best float32 step", chapter1_derivative), (2, "LeakyReLU's backward", chapter1_leaky_relu),
        (3, "a backward that only an all-ones check passes", chapter1_all_ones)],
    2: [(2, "the softmax cross-entropy gradient", chapter2_softmax)],
    3: [(1, "im2col with a stride", chapter3_stride), (2, "col2im, the adjoint", chapter3_col2im)],
    4: [(2, "batch norm's backward in evaluation", chapter4_eval_backward)],
    5: [(1, "a photo without its colour", chapter5_without_colour), (3, "the heaviest layers", chapter5_heaviest)],
    6: [(1, "contrast-limited equalization on one tile", chapter6_clip)],
    7: [(1, "a brightness offset layer", chapter7_offset)],
}


def load_answers(folder: Path, chapter: int):
    path = folder / f"chapter{chapter}.py"
    spec = importlib.util.spec_from_file_location(f"answers_chapter{chapter}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapter", type=int, choices=sorted(CHECKS))
    parser.add_argument("--answers", default=str(HERE / "answers"), help="folder of chapterN.py answer files")
    args = parser.parse_args(argv)
    answers = load_answers(Path(args.answers), args.chapter)
    passed = 0
    for number, title, check in CHECKS[args.chapter]:
        try:
            check(answers)
        except NotImplementedError:
            verdict = "not done yet"
        except Wrong as problem:
            verdict = f"wrong: {problem}"
        except Exception as problem:       # noqa: BLE001  (the student's code may fail in any way)
            verdict = f"fails: {type(problem).__name__}: {problem}"
        else:
            verdict, passed = "passed", passed + 1
        print(f"chapter {args.chapter}, exercise {number} ({title}): {verdict}")
    print(f"{passed} of {len(CHECKS[args.chapter])} passed")
    return 0 if passed == len(CHECKS[args.chapter]) else 1


if __name__ == "__main__":
    sys.exit(main())
