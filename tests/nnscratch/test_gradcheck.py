"""The gradient-check catalogue, its tolerances and its command line."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch import gradcheck
from nnscratch.checks import CASES, main, run_case
from nnscratch.gradient_check import KINK_TOLERANCE, SMOOTH_TOLERANCE


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_backward_agrees_with_central_differences_in_float64(case):
    errors = run_case(case)
    assert errors, "a check must cover at least one tensor"
    for tensor, error in errors.items():
        assert error <= case.tolerance, f"{case.name} / {tensor}: {error:.2e} > {case.tolerance:.0e}"


def test_tolerances_are_the_promised_ones():
    smooth = {c.name for c in CASES if c.tolerance == SMOOTH_TOLERANCE}
    assert SMOOTH_TOLERANCE == 1e-7 and KINK_TOLERANCE == 1e-5
    assert {"Conv2d 3x3 pad 1", "Tanh", "BatchNorm2d train", "CrossEntropyLoss soft"} <= smooth
    assert any("18-hidden-layer" in c.name for c in CASES)


def test_gradcheck_catches_a_wrong_backward():
    class WrongTanh(nn.Tanh):
        def backward(self, grad_output):
            return grad_output * (1 - self._output)  # forgot the square

    errors = gradcheck(WrongTanh(), np.random.default_rng(0).normal(size=(2, 3)))
    assert errors["input"] > 0.1


def test_gradcheck_leaves_the_module_untouched_and_reports_every_parameter():
    layer = nn.Conv2d(2, 3, 3, rng=np.random.default_rng(0))
    before = layer.weight.data.copy()
    errors = gradcheck(layer, np.random.default_rng(1).normal(size=(1, 2, 5, 5)), max_elements=10)
    assert set(errors) == {"input", "weight", "bias"}
    assert layer.weight.data.dtype == np.float32 and np.array_equal(layer.weight.data, before)
    assert layer.weight.grad is None


def test_float32_checks_fail_which_is_why_we_use_float64():
    case = next(c for c in CASES if c.name == "Conv2d 3x3 pad 1")
    assert max(run_case(case, np.float32).values()) > SMOOTH_TOLERANCE


def test_command_line_prints_a_table_and_exit_codes(capsys):
    assert main(["--layer", "tanh"]) == 0
    out = capsys.readouterr().out
    assert "Tanh" in out and "pass" in out and "1 passed, 0 failed" in out
    assert main(["--layer", "conv2d 3x3", "--dtype", "float32"]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert main(["--layer", "no such layer"]) == 2


def test_gradcheck_is_the_function_whichever_module_was_imported_first():
    import subprocess
    import sys

    code = "; ".join(["import nnscratch.gradient_check, nnscratch.checks, numpy as np",
                      "from nnscratch import gradcheck, ReLU",
                      "assert gradcheck is nnscratch.gradient_check.gradcheck",
                      "print(max(gradcheck(ReLU(), np.array([[0.5, -0.5]])).values()) < 1e-7)"])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "True", result.stderr


def test_compare_reference_prints_every_fast_layer_against_its_textbook_version(capsys):
    assert main(["--compare-reference"]) == 0
    out = capsys.readouterr().out
    for name in ("Conv2d", "ConvTranspose2d", "MaxPool2d", "BatchNorm2d", "Upsample", "Adam"):
        assert name in out
    differences = [float(line.split()[-4]) for line in out.splitlines()[1:] if line.endswith("x")]
    assert len(differences) == 6 and max(differences) < 1e-9
