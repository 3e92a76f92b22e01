"""The README's commands, CI and the examples stay in step with the code."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


ROOT = Path(__file__).resolve().parent.parent


def readme_test_command():
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- test-command -->\s*```bash\n(.+)\n```", text)
    assert match, "README.md must mark its test command with <!-- test-command -->"
    return match.group(1)


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci and "torch==2.13.0" in ci
    assert "pytest" in readme_test_command() and ".[test]" in readme_test_command()


def test_product_code_imports_no_reference_library():
    pattern = re.compile(r"^\s*(import|from)\s+(cv2|skimage|torch|hypothesis|scipy)\b", re.MULTILINE)
    for package in ("nnscratch", "colorize", "enhance"):
        for path in (ROOT / package).rglob("*.py"):
            assert not pattern.search(path.read_text()), f"{path} imports a test-only reference library"


def test_nnscratch_and_enhance_do_not_import_upward():
    for path in (ROOT / "nnscratch").rglob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+(colorize|enhance)\b", path.read_text(), re.MULTILINE), path
    for path in (ROOT / "enhance").rglob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+colorize\b", path.read_text(), re.MULTILINE), path


def run_example(*args):
    result = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_gradient_check_tour_runs_as_written():
    out = run_example(ROOT / "examples" / "gradient_check_tour.py")
    assert re.search(r"^\d+ passed, 0 failed", out, re.MULTILINE)


def test_small_cnn_example_learns_its_task():
    out = run_example(ROOT / "examples" / "train_small_cnn.py")
    accuracies = [float(a) for a in re.findall(r"test accuracy ([\d.]+)%", out)]
    assert accuracies[0] < 50 and accuracies[-1] >= 90, out


def test_overfit_one_image_example(tmp_path):
    out = run_example(ROOT / "examples" / "overfit_one_image.py", "--steps", "150", "--out", tmp_path / "fig.png")
    gain = float(re.search(r"PSNR gain over grayscale: ([-+\d.]+) dB", out).group(1))
    assert gain > 3 and (tmp_path / "fig.png").stat().st_size > 1000, out


def test_enhance_gallery_example(tmp_path):
    out = run_example(ROOT / "examples" / "enhance_gallery.py", "--out", tmp_path / "gallery.png")
    assert "14 techniques" in out and (tmp_path / "gallery.png").stat().st_size > 10000
    assert out.count("wrote") == 1, out


def test_hdr_bracket_example(tmp_path):
    out = run_example(ROOT / "examples" / "hdr_bracket.py", "--out", tmp_path / "hdr.png")
    correlation = float(re.search(r"correlation of logs ([\d.]+)", out).group(1))
    assert correlation > 0.99 and (tmp_path / "hdr.png").stat().st_size > 10000


def test_learn_enhancement_example_fits_a_chain_to_a_reference(tmp_path):
    out = run_example(ROOT / "examples" / "learn_enhancement.py", "--steps", "60", "--out", tmp_path / "learn.png")
    first, last = (float(v) for v in re.search(r"loss ([\d.]+) -> ([\d.]+) in 60 steps", out).groups())
    assert last < 0.5 * first and "parameters: rgb (gains" in out, out
    assert (tmp_path / "learn.png").stat().st_size > 10000


def test_colorizer_experiments_example_scores_chroma_scales_and_transforms_and_averages_weights(photo_folder, tmp_path):
    out = run_example(ROOT / "experiments" / "colorizer_experiments.py", "scale", "--data", photo_folder)
    assert len(re.findall(r"^chroma x [\d.]+ +gain [-+][\d.]+ dB, \d+ of 4 above gray", out, re.MULTILINE)) == 7, out
    scaled = dict(re.findall(r"^chroma x ([\d.]+) +(gain .*)$", out, re.MULTILINE))
    out = run_example(ROOT / "experiments" / "colorizer_experiments.py", "transforms", "--data", photo_folder)
    toned = dict(re.findall(r"^(tint .*|chroma - .*|mean chroma .*?) +(gain .*)$", out, re.MULTILINE))
    assert len(toned) == 14, out
    assert toned["tint x 1.0, variation x 1.0"] == scaled["1.0"]      # both leave the prediction as it is
    out = run_example(ROOT / "experiments" / "colorizer_experiments.py", "shrink", "--data", photo_folder)
    shrunk = dict(re.findall(r"^shrink (\d+) +(gain .*)$", out, re.MULTILINE))
    assert list(shrunk) == ["0", "1", "2", "3", "4", "5", "6", "8"], out
    from colorize.infer import load_model

    own = load_model().config.get("shrink", 0.0)           # the shipped model's own: as it colorizes unchanged
    assert own in (0, 1, 2, 3, 4, 5, 6, 8) and shrunk[f"{own:g}"] == scaled["1.0"], (own, out)
    assert len(re.findall(r"^chosen on one half: shrink \d+; the other half at it: gain", out, re.MULTILINE)) == 2
    # the experiment's shrink is the model's: colorize evaluate --shrink 4 scores the same
    evaluated = run_example("-m", "colorize.cli", "evaluate", "--data", photo_folder, "--shrink", "4")
    gain, count, worst = re.search(r"PSNR gain over grayscale: ([-+][\d.]+) dB \((\d+) of 4 photos above their "
                                   r"baseline, worst ([-+][\d.]+) dB\)", evaluated).groups()
    assert shrunk["4"].startswith(f"gain {gain} dB, {count} of 4 above gray, worst {worst} dB"), (shrunk, evaluated)
    shipped = ROOT / "colorize" / "weights" / "colorizer.npz"
    run_example(ROOT / "experiments" / "colorizer_experiments.py", "soup", shipped, shipped, "-o", tmp_path / "soup.npz")
    import nnscratch as nn

    from colorize.model import upgrade_state

    soup = nn.load(tmp_path / "soup.npz")["model"]
    original = upgrade_state(load_model(shipped), nn.load(shipped)["model"])   # the shipped file may have old names
    assert all(np.allclose(soup[k], original[k].astype(np.float32), rtol=1e-6) for k in original)
    out = run_example(ROOT / "experiments" / "colorizer_experiments.py", "ensemble", shipped, tmp_path / "soup.npz",
                      "--data", photo_folder)
    scores = re.findall(r"^(model 1 alone|model 2 alone|all averaged) +(gain .*)$", out, re.MULTILINE)
    assert len(scores) == 3 and len({line for _, line in scores}) == 1, out     # the same model twice: one score
    out = run_example(ROOT / "experiments" / "colorizer_experiments.py", "ensemble", shipped, tmp_path / "soup.npz",
                      "--data", photo_folder, "--unshrunk")
    alone = re.search(r"^model 1 alone +(gain .*)$", out, re.MULTILINE).group(1)
    assert alone == shrunk["0"], (alone, shrunk)          # without its output shrink: the shrink-0 score
    mixed = dict(re.findall(r"^([\d.]+ x model 1 \+ [\d.]+ x model 2, chroma - \d) towards gray +(gain .*)$",
                            out, re.MULTILINE))
    assert len(mixed) == 12, out
    for share in ("0.3", "0.5", "0.7"):
        mix = f"{1 - float(share):.1f} x model 1 + {share} x model 2, chroma - "
        assert mixed[mix + "0"] == alone, mixed                              # one model twice: any mix is it
        colour = [int(re.search(r"colourfulness (\d+)%", mixed[mix + c]).group(1)) for c in "0246"]
        assert colour == sorted(colour, reverse=True) and colour[0] > colour[-1], mixed   # graying takes colour
    # batch-norm statistics recomputed for the weights, over 3 batches of training crops: the weights
    # stay, the statistics change (and count the batches), in a soup as in one model
    for command in (["recalibrate", shipped], ["soup", shipped, shipped]):
        run_example(ROOT / "experiments" / "colorizer_experiments.py", *command, "--data", photo_folder, "--batches", "3",
                    "-o", tmp_path / "new.npz")
        new = nn.load(tmp_path / "new.npz")["model"]
        for name, value in original.items():
            if name.endswith("num_batches_tracked"):
                assert int(new[name]) == 3, name
            elif "running" in name:
                assert not np.allclose(new[name], value.astype(np.float32), rtol=1e-3), name
            else:
                np.testing.assert_allclose(new[name], value.astype(np.float32), rtol=1e-6, err_msg=name)


def test_write_your_own_layer_example_passes_its_check_and_catches_the_bug():
    out = run_example(ROOT / "examples" / "write_your_own_layer.py")
    assert re.search(r"^PASS: worst relative error", out, re.MULTILINE)
    assert "with a bug: FAIL" in out and "learned a = [2. 2. 2.], b = [-1. -1. -1.]" in out, out


def test_train_colorizer_example_sweeps_and_resumes(photo_folder, tmp_path):
    for _ in range(2):       # the second run resumes each finished run instead of starting over
        out = run_example(ROOT / "examples" / "train_colorizer.py", str(photo_folder), "--steps", "2",
                          "--runs", str(tmp_path / "runs"), "--width", "4", "--bn-batches", "4")
    assert len(re.findall(r"^\s*0\.00\d+\s+[\d.]+\s+[\d.]+", out, re.MULTILINE)) == 3, out
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["lr0.0001", "lr0.0003", "lr0.001"]


def test_importing_enhance_does_not_load_the_engine():
    code = ("import sys, enhance; loaded = sorted(m for m in sys.modules if m.startswith('nnscratch')); "
            "print(loaded); assert loaded == ['nnscratch', 'nnscratch.backend', 'nnscratch.serialize'], loaded")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_code_passes_the_linter():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (it comes with the test extra)")
    result = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hints_example_shows_points_improving_the_shipped_model(tmp_path):
    out = run_example(ROOT / "examples" / "hints.py", "--out", tmp_path / "hints.png")
    scores = {label: float(value) for label, value in re.findall(r"^(automatic|10 points): ([\d.]+) dB", out, re.MULTILINE)}
    assert scores["10 points"] > scores["automatic"] + 1 and (tmp_path / "hints.png").stat().st_size > 10000, out


def test_colorizer_experiments_example_sweeps_a_bins_model_s_temperature(photo_folder, tmp_path):
    import nnscratch as nn
    from colorize.model import Colorizer

    model = Colorizer(width=2, hints=True, head="bins", seed=1)
    path = tmp_path / "bins.npz"
    nn.save(path, {"format": "colorize-model", "config": {"model": model.config}, "model": dict(model.state_dict())})
    out = run_example(ROOT / "experiments" / "colorizer_experiments.py", "temperature", "--data", photo_folder,
                      "--checkpoint", path)
    swept = dict(re.findall(r"^temperature ([\d.]+) +(gain .*)$", out, re.MULTILINE))
    assert list(swept) == ["0.2", "0.3", "0.38", "0.5", "0.7", "1.0"], out
    assert len(re.findall(r"^chosen on one half: temperature [\d.]+; the other half at it: gain", out, re.MULTILINE)) == 2
    # the sweep's read-out is the model's: colorize evaluate --temperature 0.5 scores the same
    evaluated = run_example("-m", "colorize.cli", "evaluate", "--data", photo_folder, "--checkpoint", path,
                            "--temperature", "0.5", "--hint-points", "0")
    gain, count, worst = re.search(r"PSNR gain over grayscale: ([-+][\d.]+) dB \((\d+) of 4 photos above their "
                                   r"baseline, worst ([-+][\d.]+) dB\)", evaluated).groups()
    assert swept["0.5"].startswith(f"gain {gain} dB, {count} of 4 above gray, worst {worst} dB"), (swept, evaluated)


def readme_commands(program: str) -> list[list[str]]:
    """Every ``program ...`` line of the README's bash blocks, split as a shell would (comments dropped)."""
    import shlex

    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                words = shlex.split(part, comments=True)
                if words[:1] == [program]:
                    commands.append(words[1:])
    return commands


def test_every_colorize_command_in_the_readme_is_one_the_command_line_takes(monkeypatch):
    """Each README command parses with today's options (argparse exits 2 on a stale flag or value)."""
    from colorize.cli import build_parser

    commands = readme_commands("colorize")
    assert len(commands) >= 10
    parser = build_parser()
    for words in commands:
        parser.parse_args(words)          # raises SystemExit on an option the command no longer takes


def test_every_enhance_operation_in_the_readme_is_valid():
    from enhance.operations import check_operations, parse_operation

    specs = [word for words in readme_commands("enhance") if words and words[0] not in ("--list", "inspect", "auto",
                                                                                         "hdr-merge")
             for word in words[2:] if not word.startswith("-")]
    assert len(specs) >= 5
    check_operations([parse_operation(spec) for spec in specs])


def test_colorize_imports_no_command_line_module_of_enhance():
    """The operations table is a library (enhance.operations); enhance.cli is a command line only."""
    for path in (ROOT / "colorize").rglob("*.py"):
        assert "enhance.cli" not in path.read_text(), path


def test_no_function_in_the_packages_is_over_80_lines():
    import ast

    long = []
    for package in ("nnscratch", "colorize", "enhance"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, long


def test_no_private_name_is_imported_across_packages_or_by_scripts():
    """What one package, an example, the course or an experiment takes from another is its public API."""
    import ast

    crossings = []
    for folder in ("nnscratch", "colorize", "enhance", "examples", "course", "experiments", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0):
                    continue
                top = node.module.split(".")[0]
                if top == folder or top not in ("nnscratch", "colorize", "enhance"):
                    continue
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.endswith("__")]
                private += [part for part in node.module.split(".") if part.startswith("_")]
                if private:
                    crossings.append(f"{path.relative_to(ROOT)}: from {node.module} import {', '.join(private)}")
    assert not crossings, crossings
