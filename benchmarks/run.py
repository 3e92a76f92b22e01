"""Side-by-side speed tables: our engine and enhancements against numpy's matmul peak,
PyTorch CPU, OpenCV, Pillow and scikit-image, all measured in this one process.

    python benchmarks/run.py [--quick] [--json OUT.json]

Every figure is the median of several repeats after a warm-up; every ratio is
taken between two figures of the same run.  A reference library that is not
installed gets "not installed" in its column.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import enhance  # noqa: E402
import nnscratch as nn  # noqa: E402
from colorize import colorize  # noqa: E402
from colorize.infer import WORKING_SIZE  # noqa: E402
from colorize.model import SKIP_SOURCES, Colorizer  # noqa: E402


def optional(name):
    try:
        return __import__(name)
    except ImportError:
        return None


torch = optional("torch")
cv2 = optional("cv2")
PIL = optional("PIL")
skimage = optional("skimage")


def timed_together(functions, repeats: int, warmup: int = 1) -> list[float]:
    """Median wall times of several functions measured in turn, round by round.

    Interleaving puts every contender under the same load within each round, so
    their ratio holds up on a machine whose speed drifts during the run.
    """
    for function in functions:
        for _ in range(warmup):
            function()
    samples = [[] for _ in functions]
    for _ in range(repeats):
        for function, times in zip(functions, samples):
            start = time.perf_counter()
            function()
            times.append(time.perf_counter() - start)
    return [statistics.median(times) for times in samples]


def timed(function, repeats: int) -> float:
    """Median wall time of ``function()`` in seconds, after a warm-up call."""
    return timed_together([function], repeats)[0]


def machine() -> dict:
    info = {"python": platform.python_version(), "numpy": np.__version__, "cpu": platform.processor() or "?",
            "cores": os.cpu_count(), "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "unset")}
    try:
        with open("/proc/cpuinfo") as handle:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        from threadpoolctl import threadpool_info
        # numpy's own BLAS (its wheel keeps it in numpy.libs): OpenCV and PyTorch may load others
        numpy_dir = str(Path(np.__file__).resolve().parent)
        every = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        blas = [p for p in every if str(Path(p.get("filepath", "")).resolve()).startswith(numpy_dir)] or every
        info["blas"] = "; ".join(f"{p.get('internal_api')} {p.get('version')}, kernel {p.get('architecture')}, "
                                 f"{p.get('num_threads')} threads" for p in blas) or "not found"
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    if torch is not None:
        info["torch"] = f"{torch.__version__}, {torch.get_num_threads()} threads"
    return info


def table(title: str, header: list[str], rows: list[list]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


NOT_INSTALLED = object()


def fmt(value, digits=1):
    if value is NOT_INSTALLED:
        return "not installed"
    return "—" if value is None else f"{value:.{digits}f}"


def reference(library, function):
    """``function`` when its library is installed, else a marker that prints "not installed"."""
    return NOT_INSTALLED if library is None else function


def matmul_ceiling(size: int, repeats: int) -> float:
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    return 2 * size ** 3 / timed(lambda: a @ a, repeats) / 1e9


def gemm_time(rows: int, inner: int, columns: int, repeats: int) -> float:
    """Seconds for one float32 ``(rows, inner) @ (inner, columns)`` product from memory:
    the BLAS cost of a convolution's matrix product without building its im2col matrix."""
    rng = np.random.default_rng(1)
    a = rng.random((rows, inner), dtype=np.float32)
    b = rng.random((inner, columns), dtype=np.float32)
    return timed(lambda: a @ b, repeats)


def conv_rows(batch: int, crop: int, repeats: int, ceiling: float):
    """Every distinct Conv2d shape of the default colorizer: forward and backward."""
    model = Colorizer()
    x = np.random.default_rng(0).standard_normal((batch, 1, crop, crop)).astype(np.float32)
    seen, rows = set(), []
    for _, layer in model.layers():
        if isinstance(layer, nn.Conv2d):
            key = (layer.in_channels, layer.out_channels, layer.stride, layer.dilation, x.shape[2])
            if key not in seen:
                seen.add(key)
                y = layer.forward(x)
                grad = np.ones_like(y)
                flops = 2 * y.size * layer.in_channels * 9
                # the forward product alone, (pixels, 9 C_in) @ (9 C_in, C_out), as BLAS runs it from memory
                gemm = gemm_time(y.size // layer.out_channels, 9 * layer.in_channels, layer.out_channels, repeats)
                backward_flops = flops * (2 if layer.input_grad else 1)
                torch_forward = torch_backward = None
                if torch is None:
                    forward, = timed_together([lambda: layer.forward(x)], repeats)
                    backward, = timed_together([lambda: layer.backward(grad)], repeats)
                else:
                    conv = torch.nn.Conv2d(layer.in_channels, layer.out_channels, 3, layer.stride, layer.padding,
                                           layer.dilation, bias=layer.bias is not None)
                    tx = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_(layer.input_grad)
                    forward, torch_forward = timed_together([lambda: layer.forward(x), lambda: conv(tx)], repeats)
                    ty = conv(tx)
                    tg = torch.ones_like(ty)
                    wrt = [tx, *conv.parameters()] if layer.input_grad else list(conv.parameters())
                    backward, torch_backward = timed_together(
                        [lambda: layer.backward(grad), lambda: torch.autograd.grad(ty, wrt, tg, retain_graph=True)], repeats)
                name = f"{layer.in_channels}→{layer.out_channels} s{layer.stride[0]} d{layer.dilation[0]} @{x.shape[2]}²"
                rows.append([name + ("" if layer.input_grad else " (no dx)"),
                             f"{forward * 1e3:.1f}", f"{flops / forward / 1e9:.0f}", f"{flops / forward / 1e9 / ceiling:.0%}",
                             f"{flops / gemm / 1e9:.0f}", f"{gemm / forward:.0%}",
                             f"{backward * 1e3:.1f}", f"{backward_flops / backward / 1e9:.0f}",
                             f"{backward_flops / backward / 1e9 / ceiling:.0%}",
                             *[fmt(v) for v in _torch_cells(torch_forward, torch_backward, forward, backward)]])
        x = layer.forward(x)
    return rows


def _torch_cells(torch_forward, torch_backward, forward, backward):
    if torch_forward is None:
        return [NOT_INSTALLED] * 4
    return [torch_forward * 1e3, torch_backward * 1e3, forward / torch_forward, backward / torch_backward]


def torch_colorizer(model: Colorizer):
    """The same architecture in PyTorch, with our weights."""
    layers = []
    for _, layer in model.layers():
        if isinstance(layer, nn.Conv2d):
            conv = torch.nn.Conv2d(layer.in_channels, layer.out_channels, 3, layer.stride, layer.padding,
                                   layer.dilation, bias=layer.bias is not None)
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(layer.weight.data))
                if layer.bias is not None:
                    conv.bias.copy_(torch.from_numpy(layer.bias.data))
            layers.append(conv)
        elif isinstance(layer, nn.BatchNorm2d):
            layers.append(torch.nn.BatchNorm2d(layer.num_features))
        elif isinstance(layer, nn.ReLU):
            layers.append(torch.nn.ReLU())
        elif isinstance(layer, nn.Upsample):
            layers.append(torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False))
        elif isinstance(layer, nn.Tanh):
            layers.append(torch.nn.Tanh())
    # the same skip connections: after the last layer of stage up<l>, add the output of its source stage
    stages = [name.split(".")[0] for name, _ in model.layers()]
    last = {stage: index for index, stage in enumerate(stages)}
    adds = {last[f"up{level}"]: last[SKIP_SOURCES[level]] for level in model.skip_levels}

    class TorchColorizer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.ModuleList(layers)

        def forward(self, x):
            kept = {}
            for index, layer in enumerate(self.body):
                x = layer(x)
                if index in adds.values():
                    kept[index] = x
                if index in adds:
                    x = x + kept.pop(adds[index])
            return x

    return TorchColorizer()


def training_setup(batch: int, crop: int):
    """The default colorizer, Adam, the Huber loss and one seeded batch: what a training step needs."""
    model = Colorizer()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 1, crop, crop)).astype(np.float32)
    target = rng.uniform(-0.5, 0.5, (batch, 2, crop, crop)).astype(np.float32)
    return model, nn.Adam(model.parameters()), nn.SmoothL1Loss(beta=0.1), x, target


def torch_training_step(model: Colorizer, x, target):
    """One PyTorch training step of the same network with our weights, as a function."""
    reference = torch_colorizer(model)
    optimizer = torch.optim.Adam(reference.parameters(), lr=1e-4)
    tx, tt = torch.from_numpy(x), torch.from_numpy(target)

    def torch_step():
        optimizer.zero_grad()
        torch.nn.functional.smooth_l1_loss(reference(tx), tt, beta=0.1).backward()
        optimizer.step()
    return torch_step


def training_rows(batch: int, crop: int, repeats: int):
    model, optimizer, criterion, x, target = training_setup(batch, crop)

    def step():
        optimizer.zero_grad()
        criterion.forward(model.forward(x), target)
        model.backward(criterion.backward())
        optimizer.step()

    tracemalloc.start()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    theirs = None
    if torch is None:
        ours, = timed_together([step], repeats)
    else:
        ours, theirs = timed_together([step, torch_training_step(model, x, target)], repeats)
    return [[f"batch {batch}, {crop}²", f"{ours * 1e3:.0f}", f"{batch / ours:.1f}", f"{peak / 1e6:.0f}",
             fmt(theirs * 1e3 if theirs else NOT_INSTALLED, 0), fmt(ours / theirs if theirs else NOT_INSTALLED, 2)]]


# Where a training step's time goes: our layers by kind, against the aten operators PyTorch runs for them.
STEP_PARTS = [("Conv2d", "forward", ["aten::convolution"]),
              ("Conv2d", "backward", ["aten::convolution_backward"]),
              ("BatchNorm2d", "forward", ["aten::batch_norm"]),
              ("BatchNorm2d", "backward", ["aten::native_batch_norm_backward"]),
              ("ReLU", "forward", ["aten::relu", "aten::relu_"]),
              ("ReLU", "backward", ["aten::threshold_backward"]),
              ("Upsample", "forward", ["aten::upsample_bilinear2d"]),
              ("Upsample", "backward", ["aten::upsample_bilinear2d_backward"]),
              ("Tanh", "forward", ["aten::tanh"]),
              ("Tanh", "backward", ["aten::tanh_backward"]),
              ("loss", "forward and backward", ["aten::smooth_l1_loss", "aten::smooth_l1_loss_backward"]),
              ("Adam", "step", ["Optimizer.step#Adam.step"])]


def step_breakdown_rows(batch: int, crop: int, repeats: int):
    """One training step of the default colorizer split by layer kind, ours beside PyTorch's operators.

    Ours: every layer's forward and backward timed as it runs inside the step (summed over the
    layers of a kind, median over ``repeats`` steps).  PyTorch: its profiler's inclusive time of
    the operators that do the same work.  "everything else" is the step's wall time less the parts:
    skip additions, the zeroing of gradients, Python between the calls.
    """
    model, optimizer, criterion, x, target = training_setup(batch, crop)
    spent: dict[tuple[str, str], float] = {}

    def timing(key, function):
        def timed_call(*args):
            start = time.perf_counter()
            result = function(*args)
            spent[key] = spent.get(key, 0.0) + time.perf_counter() - start
            return result
        return timed_call

    for _, layer in model.layers():
        kind = type(layer).__name__
        layer.forward = timing((kind, "forward"), layer.forward)
        layer.backward = timing((kind, "backward"), layer.backward)
    loss_forward = timing(("loss", "forward and backward"), criterion.forward)
    loss_backward = timing(("loss", "forward and backward"), criterion.backward)
    adam_step = timing(("Adam", "step"), optimizer.step)
    samples: dict[tuple[str, str], list[float]] = {}
    for repeat in range(repeats + 1):         # the first step warms up
        spent.clear()
        start = time.perf_counter()
        optimizer.zero_grad()
        loss_forward(model.forward(x), target)
        model.backward(loss_backward())
        adam_step()
        spent[("step", "")] = time.perf_counter() - start
        spent[("everything else", "")] = spent[("step", "")] - sum(spent.get((k, p), 0.0) for k, p, _ in STEP_PARTS)
        if repeat:
            for key, seconds in spent.items():
                samples.setdefault(key, []).append(seconds)
    ours = {key: statistics.median(values) for key, values in samples.items()}
    theirs = {}
    if torch is not None:
        from torch.profiler import ProfilerActivity, profile

        torch_step = torch_training_step(model, x, target)
        torch_step()
        start = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU]) as profiler:
            for _ in range(repeats):
                torch_step()
        theirs[("step", "")] = (time.perf_counter() - start) / repeats
        totals = {event.key: event.cpu_time_total / 1e6 / repeats for event in profiler.key_averages()}
        for kind, phase, names in STEP_PARTS:
            theirs[(kind, phase)] = sum(totals.get(name, 0.0) for name in names)
    rows = []
    for kind, phase, _ in STEP_PARTS + [("everything else", "", None), ("step", "", None)]:
        key = (kind, phase)
        if kind == "everything else":      # ours: the median over the steps of each step's remainder
            mine = ours[key]
            other = (theirs[("step", "")] - sum(theirs[(k, p)] for k, p, _ in STEP_PARTS)) if theirs else None
        else:
            mine, other = ours.get(key, 0.0), theirs.get(key) if theirs else None
        rows.append([f"{kind} {phase}".strip(), f"{mine * 1e3:.1f}", f"{mine / ours[('step', '')]:.0%}",
                     fmt(other * 1e3 if other is not None else (NOT_INSTALLED if torch is None else None)),
                     fmt(mine / other if other else (NOT_INSTALLED if torch is None else None), 2)])
    return rows


def inference_rows(repeats: int, megapixels: float):
    model = Colorizer().eval()
    height = int(round((megapixels * 1e6 * 3 / 4) ** 0.5))
    width = int(round(height * 4 / 3))
    photo = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    tracemalloc.start()
    colorize(photo, model)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    theirs = None
    if torch is None:
        ours, = timed_together([lambda: colorize(photo, model)], repeats)
    else:
        reference = torch_colorizer(model).eval()

        def torch_forward(x):
            with torch.no_grad():
                return reference(torch.from_numpy(np.ascontiguousarray(x))).numpy()
        proxy = copy.copy(model)        # the same pipeline with the network run by PyTorch
        proxy.forward = torch_forward
        ours, theirs = timed_together([lambda: colorize(photo, model), lambda: colorize(photo, proxy)], repeats)
    return [[f"{width}x{height} ({width * height / 1e6:.1f} MP)", f"{ours:.2f}", f"{peak / 1e9:.2f}",
             fmt(theirs if theirs else NOT_INSTALLED, 2), fmt(ours / theirs if theirs else NOT_INSTALLED, 2)]]


def enhancement_rows(repeats: int, megapixels: float):
    height = int(round((megapixels * 1e6 * 3 / 4) ** 0.5))
    width = int(round(height * 4 / 3))
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    gray = rgb[..., 0].copy()
    pil_rgb = PIL.Image.fromarray(rgb) if PIL else None
    if PIL:
        from PIL import ImageEnhance, ImageOps
    exposure = optional("skimage") and __import__("skimage.exposure", fromlist=["adjust_gamma"])
    table = np.arange(256, dtype=np.uint8)[::-1].copy()
    look_up = lambda: table[rgb]                     # noqa: E731  numpy's own table look-up over the photo
    gray_tables = [np.roll(table, k) for k in range(4)]
    cases = [
        ("equalize_hist (gray)", lambda: enhance.equalize_hist(gray), reference(cv2, lambda: cv2.equalizeHist(gray)), None, None,
         lambda: np.bincount(gray.ravel(), minlength=256)),
        ("clahe (gray)", lambda: enhance.clahe(gray), reference(cv2, lambda: cv2.createCLAHE(2.0, (8, 8)).apply(gray)), None, None,
         lambda: [t[gray] for t in gray_tables]),
        ("brightness 1.3", lambda: enhance.brightness(rgb, 1.3), None,
         reference(PIL, lambda: ImageEnhance.Brightness(pil_rgb).enhance(1.3)), None, look_up),
        ("contrast 1.3", lambda: enhance.contrast(rgb, 1.3), None,
         reference(PIL, lambda: ImageEnhance.Contrast(pil_rgb).enhance(1.3)), None, look_up),
        ("saturation 1.3", lambda: enhance.saturation(rgb, 1.3), None,
         reference(PIL, lambda: ImageEnhance.Color(pil_rgb).enhance(1.3)), None, look_up),
        ("sharpness 2", lambda: enhance.sharpness(rgb, 2.0), None,
         reference(PIL, lambda: ImageEnhance.Sharpness(pil_rgb).enhance(2.0)), None, None),
        ("autocontrast", lambda: enhance.autocontrast(rgb), None, reference(PIL, lambda: ImageOps.autocontrast(pil_rgb)), None,
         lambda: (np.bincount(rgb.ravel(), minlength=256), table[rgb])),
        ("scale_abs", lambda: enhance.scale_abs(rgb, 1.3, 5),
         reference(cv2, lambda: cv2.convertScaleAbs(rgb, alpha=1.3, beta=5)), None, None, look_up),
        ("gamma 0.8", lambda: enhance.gamma(rgb, 0.8), reference(cv2, lambda: cv2.LUT(rgb, table)), None,
         reference(exposure, lambda: exposure.adjust_gamma(rgb, 0.8)), look_up),
        ("log", lambda: enhance.log_transform(rgb), None, None, reference(exposure, lambda: exposure.adjust_log(rgb)), look_up),
        ("invert", lambda: enhance.invert(rgb), reference(cv2, lambda: cv2.bitwise_not(rgb)), None, None, None),
        ("gaussian_blur 2", lambda: enhance.gaussian_blur(rgb, 2.0),
         reference(cv2, lambda: cv2.GaussianBlur(rgb, (0, 0), 2.0)), None, None, None),
        ("hdr", lambda: enhance.hdr(rgb), reference(cv2, lambda: cv2.detailEnhance(rgb)), None, None, None),
    ]
    rows = []
    for name, ours, opencv, pillow, scikit, floor in cases:
        labels = [k for k, f in (("opencv", opencv), ("pillow", pillow), ("skimage", scikit), ("floor", floor)) if callable(f)]
        measured = timed_together([ours] + [dict(opencv=opencv, pillow=pillow, skimage=scikit, floor=floor)[k] for k in labels],
                                  repeats)
        ours_time = measured[0]
        other = {"opencv": opencv, "pillow": pillow, "skimage": scikit, "floor": floor}
        other.update(zip(labels, measured[1:]))
        def ratio(label):
            return fmt(ours_time / other[label] if isinstance(other[label], float) else other[label], 1)
        rows.append([name, f"{ours_time * 1e3:.0f}"]
                    + [fmt(other[k] * 1e3 if isinstance(other[k], float) else other[k], 0) for k in ("opencv", "pillow", "skimage")]
                    + [ratio("opencv"), ratio("pillow"), ratio("skimage"),
                       fmt(other["floor"] and other["floor"] * 1e3, 0), ratio("floor")])
    return rows, f"{width}x{height} uint8 RGB ({width * height / 1e6:.1f} MP)"


def operation_count_rows():
    """Array operations of one training step and one 256² inference pass on the counting stand-in device,
    by layer kind: what a GPU launches (each a kernel), where no GPU is at hand."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from colorize import load_model
    from tests.nnscratch.fake_device import FAKE_DEVICE, counting, to_fake_device

    model = to_fake_device(Colorizer(hints=True))
    optimizer, criterion = nn.Adam(model.parameters()), nn.LogMSELoss(eps=2e-4)
    rng = np.random.default_rng(0)
    x = FAKE_DEVICE.asarray(rng.standard_normal((16, 4, 128, 128)).astype(np.float32))
    target = FAKE_DEVICE.asarray(rng.uniform(-0.5, 0.5, (16, 2, 128, 128)).astype(np.float32))
    by_kind: dict[tuple[str, str], int] = {}

    def counted(key, function):
        def call(*args):
            with counting() as counts:
                result = function(*args)
            by_kind[key] = by_kind.get(key, 0) + sum(counts.values())
            return result
        return call

    for _, layer in model.layers():
        kind = type(layer).__name__
        layer.forward, layer.backward = counted((kind, "training"), layer.forward), counted((kind, "training"), layer.backward)

    def step():
        optimizer.zero_grad()
        loss = criterion.compute(model.forward(x), target)
        model.backward(criterion.backward())
        optimizer.step()
        return loss

    step()
    by_kind.clear()
    with counting() as whole:
        step()
    total = sum(whole.values())
    by_kind[("skips, loss, Adam, zero_grad", "training")] = total - sum(by_kind.values())
    inference = nn.fold_batch_norm(to_fake_device(load_model()))
    for _, layer in inference.layers():
        kind = type(layer).__name__
        layer.forward = counted((kind, "inference"), layer.forward)
    with counting() as passes:
        inference.forward(FAKE_DEVICE.asarray(np.zeros((1, 4, 256, 256), dtype=np.float32)))
    inference_total = sum(passes.values())
    by_kind[("skips, shrink", "inference")] = inference_total - sum(v for (k, p), v in by_kind.items() if p == "inference")
    kinds = sorted({kind for kind, _ in by_kind}, key=lambda k: (k.startswith("skips"), k))
    rows = [[kind, by_kind.get((kind, "training"), ""), by_kind.get((kind, "inference"), "")] for kind in kinds]
    rows.append(["total", total, inference_total])
    rows.append(["reads back to the host", whole["to host"], passes["to host"]])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller images")
    parser.add_argument("--json", metavar="OUT.json", help="also write the figures as JSON")
    args = parser.parse_args()
    allocator = "glibc, freed blocks kept (nnscratch.keep_freed_memory)" if nn.keep_freed_memory() else "default"
    repeats = 3 if args.quick else 5
    results = {"machine": {**machine(), "allocator": allocator}, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    output = [f"Benchmarks, {results['date']}", "", "Machine: " + "; ".join(f"{k} {v}" for k, v in results["machine"].items()), ""]

    ceiling = matmul_ceiling(2048 if args.quick else 4096, repeats)
    results["matmul_gflops"] = ceiling
    output.append(table("1. Ceiling", ["numpy float32 matmul", "GFLOP/s"], [[f"{2048 if args.quick else 4096}²", f"{ceiling:.0f}"]]))

    rows = conv_rows(8 if args.quick else 16, 128, repeats, ceiling)
    results["conv"] = rows
    title = "2. Conv2d layers of the default colorizer (batch 16, 128² crops)" if not args.quick else "2. Conv2d layers (batch 8, 128²)"
    output.append(table(title,
                        ["layer", "fwd ms", "fwd GFLOP/s", "of ceiling", "same-shape matmul GFLOP/s", "fwd of that",
                         "bwd ms", "bwd GFLOP/s", "of ceiling", "torch fwd ms", "torch bwd ms", "fwd ratio", "bwd ratio"], rows))

    rows = training_rows(8 if args.quick else 16, 128, repeats)
    results["training"] = rows
    output.append(table("3. Training step (forward, Huber loss, backward, Adam)",
                        ["step", "ms", "images/s", "peak MB (traced)", "torch ms", "ratio"], rows))

    rows = step_breakdown_rows(8 if args.quick else 16, 128, repeats)
    results["training_breakdown"] = rows
    output.append(table("3b. Where a training step's time goes (our layers by kind; PyTorch's operators, from its profiler)",
                        ["part", "ours ms", "of our step", "torch ms", "ratio"], rows))

    rows = inference_rows(max(1, repeats // 2), 3.0 if args.quick else 12.0)
    results["inference"] = rows
    output.append(table(f"4. Colorizing a photo end to end (working size {WORKING_SIZE})",
                        ["photo", "seconds", "peak GB (traced)", "with torch network s", "ratio"], rows))

    rows, label = enhancement_rows(repeats, 3.0 if args.quick else 12.0)
    results["enhance"] = rows
    output.append(table(f"5. Enhancement operations on {label}",
                        ["operation", "ours ms", "OpenCV ms", "Pillow ms", "scikit-image ms", "ours / OpenCV", "ours / Pillow",
                         "ours / scikit-image", "numpy floor ms", "ours / floor"], rows))
    rows = operation_count_rows()
    results["operation_counts"] = rows
    output.append(table("6. Array operations per training step (batch 16, 128², shipped architecture) and per 256² "
                        "inference pass (shipped model, batch norm folded), on the counting stand-in device: each one "
                        "a kernel launch on a GPU", ["layer kind", "training step", "inference pass"], rows))
    output.append("7. GPU: not run here (no CuPy GPU in this process); benchmarks/gpu.py measures it where there is one."
                  if not nn.cuda_available() else "7. GPU: run benchmarks/gpu.py.")
    text = "\n".join(output)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
