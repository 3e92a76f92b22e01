"""The GPU check in one prepared run (under 5 minutes on one GPU): tests, then speed against PyTorch.

    python benchmarks/gpu.py [--out TABLE.md] [--skip-tests]

1. the gpu-marked tests and the device-strategy tests (``pytest -m gpu``, then the stand-in's);
2. a colorizer training step (forward, Huber loss, backward, Adam), ours on CuPy against the same
   network in PyTorch on the same GPU (cuDNN), at batch 16 / 128² and 64 / 256²;
3. colorizing a 12-megapixel photo with the model on the GPU (end to end, from the uint8 array);
4. ``colorize train --device cuda`` on a folder of photos: crops per second.

Every time is the median of several repeats after warm-up, with the device synchronised around
each.  The table is printed last (and written to ``--out``).  Needs CuPy and a CUDA GPU (and
PyTorch with CUDA for its column; "not installed" otherwise).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import nnscratch as nn  # noqa: E402
from colorize import colorize  # noqa: E402
from colorize.model import Colorizer  # noqa: E402


def synchronized_median(function, synchronize, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        function()
    synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_tests() -> str:
    lines = []
    for label, command in (("gpu-marked tests", ["-m", "gpu", "tests"]),
                           ("device-strategy tests (stand-in)", ["tests/nnscratch/test_device_strategy.py",
                                                                 "tests/nnscratch/test_device.py",
                                                                 "tests/enhance/test_device.py"])):
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *command],
                                cwd=ROOT, capture_output=True, text=True)
        summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
        print(result.stdout[-3000:], result.stderr[-2000:], sep="\n", flush=True)
        lines.append(f"| {label} | {summary} | exit {result.returncode} |")
    return "\n".join(["| tests | result | |", "|---|---|---|", *lines])


def training_rows(cupy, torch, sizes=((16, 128, 10), (64, 256, 5))) -> list[str]:
    from run import torch_colorizer   # benchmarks/run.py: the same network in PyTorch, with our weights

    rows = []
    for batch, crop, repeats in sizes:
        model = Colorizer()
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, 1, crop, crop)).astype(np.float32)
        target = rng.uniform(-0.5, 0.5, (batch, 2, crop, crop)).astype(np.float32)
        reference = torch_colorizer(model) if torch is not None else None
        model.to("cuda")
        optimizer, criterion = nn.Adam(model.parameters()), nn.SmoothL1Loss(beta=0.1)
        gx, gt = cupy.asarray(x), cupy.asarray(target)

        def ours():
            optimizer.zero_grad()
            criterion.compute(model.forward(gx), gt)
            model.backward(criterion.backward())
            optimizer.step()

        mine = synchronized_median(ours, cupy.cuda.Device().synchronize, repeats)
        theirs = None
        if reference is not None and torch.cuda.is_available():
            reference = reference.cuda()
            torch_optimizer = torch.optim.Adam(reference.parameters(), lr=1e-4)
            tx, tt = torch.from_numpy(x).cuda(), torch.from_numpy(target).cuda()

            def pytorch():
                torch_optimizer.zero_grad()
                torch.nn.functional.smooth_l1_loss(reference(tx), tt, beta=0.1).backward()
                torch_optimizer.step()

            theirs = synchronized_median(pytorch, torch.cuda.synchronize, repeats)
        missing = "not installed" if torch is None else "no CUDA in PyTorch"
        ratio = f"{mine / theirs:.2f}" if theirs else missing
        theirs_cell = f"{theirs * 1e3:.1f} ms" if theirs else missing
        rows.append(f"| training step, batch {batch} at {crop}² | {mine * 1e3:.1f} ms | {theirs_cell} | {ratio} |")
    return rows


def inference_row(cupy, height=3000, width=4000) -> str:
    model = Colorizer(hints=True).to("cuda")
    photo = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    seconds = synchronized_median(lambda: colorize(photo, model), cupy.cuda.Device().synchronize, 3, warmup=1)
    return f"| colorize a {height * width / 1e6:.1f} MP photo ({width}x{height}), model on the GPU | {seconds:.2f} s | | |"


def training_command_row(steps: int = 300) -> str:
    """``colorize train --device cuda`` on copies of the bundled sample photo, cut to several sizes."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as folder:
        sample = Image.open(ROOT / "colorize" / "samples" / "fallen_leaf.jpg").convert("RGB")
        for index, angle in enumerate((0, 90, 180, 270)):
            sample.rotate(angle, expand=True).save(Path(folder) / f"photo{index}.jpg")
        batch = 64
        command = [sys.executable, "-m", "colorize", "train", "--data", folder, "--out", f"{folder}/run",
                   "--device", "cuda", "--hints", "--steps", str(steps), "--batch-size", str(batch),
                   "--checkpoint-every", str(steps), "--bn-batches", "0", "--no-progress",
                   "--log-every", str(max(1, min(50, steps // 4)))]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if result.returncode:
            return f"| colorize train --device cuda | failed: {result.stderr.strip().splitlines()[-1:]} | | |"
        import json
        records = [json.loads(line) for line in (Path(folder) / "run" / "metrics.jsonl").read_text().splitlines()]
        speeds = [r["images_per_s"] for r in records if "images_per_s" in r]
        speeds = speeds[1:] or speeds                                                 # the first window warms up
        return (f"| colorize train --device cuda --hints, batch {batch} at 128² | "
                f"{statistics.median(speeds):.0f} crops/s | | |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", metavar="TABLE.md", help="also write the table here")
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("--quick", action="store_true", help="small sizes only: a smoke run of the script")
    args = parser.parse_args()
    if not nn.cuda_available():
        print("no CuPy GPU here: nothing to measure (install the 'gpu' extra on a machine with a CUDA GPU)")
        return 2
    import cupy
    try:
        import torch
    except ImportError:
        torch = None
    nn.keep_freed_memory()
    sections = []
    if not args.skip_tests:
        sections.append(run_tests())
    device = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    rows = ["| what | ours | PyTorch (same GPU) | ours / PyTorch |", "|---|---|---|---|"]
    if args.quick:
        rows += training_rows(cupy, torch, ((2, 32, 2),))
        rows.append(inference_row(cupy, 120, 160))
        rows.append(training_command_row(steps=4))
    else:
        rows += training_rows(cupy, torch)
        rows.append(inference_row(cupy))
        rows.append(training_command_row())
    versions = f"CuPy {cupy.__version__}" + (f", PyTorch {torch.__version__}" if torch else "")
    sections.append(f"GPU: {device}; {versions}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n" + "\n".join(rows))
    text = "\n\n".join(sections)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
