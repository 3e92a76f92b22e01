"""The colorize command line: real runs, and clear one-line errors for user mistakes."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import nnscratch as nn
from colorize.cli import main
from colorize.model import Colorizer
from enhance.io import read_image
from tests.conftest import synthetic_photo


@pytest.fixture
def model_file(tmp_path):
    model = Colorizer(hidden_layers=18, width=2, seed=0)
    path = tmp_path / "model.npz"
    nn.save(path, {"format": "colorize-model", "config": {"model": model.config}, "model": dict(model.state_dict())})
    return path


def test_predict_one_file(tmp_path, model_file, capsys):
    Image.fromarray(synthetic_photo()).convert("L").save(tmp_path / "gray.png")
    assert main(["predict", str(tmp_path / "gray.png"), "-o", str(tmp_path / "out.jpg"), "--checkpoint", str(model_file)]) == 0
    out = read_image(tmp_path / "out.jpg")
    assert out.shape == (48, 64, 3)
    assert "colour input" not in capsys.readouterr().err


def test_predict_a_folder_continues_past_bad_files(photo_folder, tmp_path, model_file, capsys):
    (photo_folder / "truncated.jpg").write_bytes((photo_folder / "nested" / "deep.jpg").read_bytes()[:300])
    (photo_folder / "zero.png").write_bytes(b"")
    Image.fromarray(synthetic_photo(1, 1)).save(photo_folder / "dot.png")
    code = main(["predict", str(photo_folder), "-o", str(tmp_path / "out"), "--checkpoint", str(model_file), "--format", "png"])
    err = capsys.readouterr().err
    assert code == 1
    assert "failed:" in err and "truncated.jpg" in err and "zero.png" in err and "5 of 7 files" in err
    assert err.count("colour input") == 1
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
    assert written == ["dot.png", "nested/deep.png", "photo0.png", "photo1.png", "photo2.png"]
    assert not list((tmp_path / "out").rglob("*.tmp"))


@pytest.mark.parametrize("args, message, code", [
    (["predict", "missing.png", "-o", "out.png"], "no such file or folder", 1),      # understood, but failed
    (["evaluate", "--data", "nowhere"], "no such file or folder", 1),
    (["model-summary", "--size", "100"], "multiple of 8", 2),                           # the command line is wrong
    (["train", "--data", ".", "--out", "run"], "give --steps or --epochs", 2),
])
def test_user_mistakes_are_one_line_errors(tmp_path, monkeypatch, capsys, args, message, code):
    monkeypatch.chdir(tmp_path)
    assert main(args) == code
    err = capsys.readouterr().err
    assert err.startswith("colorize: error:") and message in err and "Traceback" not in err


def test_a_decompression_bomb_is_refused_clearly(tmp_path, model_file, monkeypatch, capsys):
    Image.fromarray(synthetic_photo(40, 40)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    assert main(["predict", str(tmp_path / "big.png"), "-o", str(tmp_path / "out.png"), "--checkpoint", str(model_file)]) == 1
    assert "too large to open safely" in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()


def test_a_non_model_checkpoint_is_refused(tmp_path, capsys):
    (tmp_path / "weights.npz").write_bytes(b"PK\x03\x04 broken")
    Image.fromarray(synthetic_photo()).save(tmp_path / "in.png")
    assert main(["predict", str(tmp_path / "in.png"), "-o", str(tmp_path / "o.png"), "--checkpoint", str(tmp_path / "weights.npz")]) == 1
    assert "truncated or corrupt" in capsys.readouterr().err


def test_train_evaluate_export_round_trip(photo_folder, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(photo_folder), "--out", str(run), "--steps", "2", "--batch-size", "2",
                 "--crop", "16", "--width", "2", "--checkpoint-every", "1", "--no-progress"]) == 0
    assert main(["train", "--data", str(photo_folder), "--out", str(run), "--resume", "--steps", "3", "--no-progress"]) == 0
    assert "step 3" in capsys.readouterr().out
    assert main(["export", str(run), str(tmp_path / "small.npz"), "--float16"]) == 0
    assert nn.load(tmp_path / "small.npz")["model"]["enc0.conv.weight"].dtype == np.float16
    assert main(["evaluate", "--data", str(photo_folder), "--checkpoint", str(tmp_path / "small.npz"),
                 "--json", str(tmp_path / "scores.json"), "--grid", str(tmp_path / "grid.png")]) == 0
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert len(scores["images"]) == 4 and {"psnr", "psnr_gray", "ab_rmse", "colorfulness"} <= set(scores["mean"])
    assert (tmp_path / "grid.png").stat().st_size > 1000
    assert "PSNR gain over grayscale" in capsys.readouterr().out


def test_model_summary_lists_18_hidden_layers(capsys):
    assert main(["model-summary", "--width", "8"]) == 0
    out = capsys.readouterr().out
    assert "18 hidden layers" in out and "GFLOP per megapixel" in out


def test_console_script_usage_error_exits_2():
    result = subprocess.run([sys.executable, "-m", "colorize.cli", "train", "--steps", "0"], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_demo_draws_before_and_after(tmp_path, model_file, capsys):
    assert main(["demo", "-o", str(tmp_path / "demo.png"), "--checkpoint", str(model_file)]) == 0
    out = capsys.readouterr().out
    assert "fallen_leaf.jpg" in out and "PSNR" in out
    assert (tmp_path / "demo.png").stat().st_size > 10000


def test_predict_can_enhance_the_result(tmp_path, model_file, capsys):
    from enhance import contrast, gamma
    from colorize import colorize, load_model

    Image.fromarray(synthetic_photo()).convert("L").save(tmp_path / "gray.png")
    assert main(["predict", str(tmp_path / "gray.png"), "-o", str(tmp_path / "out.png"), "--checkpoint", str(model_file),
                 "--enhance", "contrast:1.3 gamma:0.8"]) == 0
    expected = gamma(contrast(colorize(read_image(tmp_path / "gray.png"), load_model(model_file)), 1.3), 0.8)
    np.testing.assert_array_equal(read_image(tmp_path / "out.png"), expected)
    # repeated, and before the input: the option can no longer swallow the input file
    assert main(["predict", "--enhance", "contrast:1.3", "--enhance", "gamma:0.8", str(tmp_path / "gray.png"),
                 "-o", str(tmp_path / "out2.png"), "--checkpoint", str(model_file)]) == 0
    np.testing.assert_array_equal(read_image(tmp_path / "out2.png"), expected)
    assert main(["predict", str(tmp_path / "gray.png"), "-o", str(tmp_path / "bad.png"), "--checkpoint", str(model_file),
                 "--enhance", "gamma:-2"]) == 2      # a usage error, as in 'enhance' itself
    assert "--enhance: gamma must be" in capsys.readouterr().err and not (tmp_path / "bad.png").exists()


def test_predict_keeps_16_bit_photos_16_bit(tmp_path, model_file):
    pytest.importorskip("imagecodecs", reason="the 16bit extra decodes 16-bit colour")
    from colorize import colorize, load_model
    from enhance.io import write_image
    from tests.enhance.test_io import sixteen_bit_photo

    photo = sixteen_bit_photo(4)
    write_image(tmp_path / "deep.png", photo)
    assert main(["predict", str(tmp_path / "deep.png"), "-o", str(tmp_path / "out.png"),
                 "--checkpoint", str(model_file)]) == 0
    out = read_image(tmp_path / "out.png")
    assert out.dtype == np.uint16 and out.shape == photo.shape
    np.testing.assert_array_equal(out, colorize(photo, load_model(model_file), dtype=np.uint16))
    np.testing.assert_array_equal(out[..., 3], photo[..., 3])       # alpha passes through, all 16 bits
    # the lightness keeps 16-bit precision: far more distinct levels than 8 bits could hold
    assert len(np.unique(out[..., 1])) > 256


def test_predict_never_overwrites_an_input_and_refuses_colliding_outputs(tmp_path, model_file, capsys):
    import hashlib

    for folder in ("d1", "d2"):
        (tmp_path / folder).mkdir()
        Image.fromarray(synthetic_photo()).save(tmp_path / folder / "x.jpg")
    Image.fromarray(synthetic_photo(seed=3)).save(tmp_path / "d1" / "x.png")
    original = hashlib.sha256((tmp_path / "d1" / "x.jpg").read_bytes()).hexdigest()
    model = ["--checkpoint", str(model_file)]
    cases = [
        (["predict", str(tmp_path / "d1" / "x.jpg"), "-o", str(tmp_path / "d1" / "x.jpg")], "refusing to overwrite"),
        (["predict", str(tmp_path / "d1" / "x.jpg"), str(tmp_path / "d2" / "x.jpg"), "-o", str(tmp_path / "clash")],
         "would both be written to"),
        (["predict", str(tmp_path / "d1"), "-o", str(tmp_path / "flat"), "--format", "png"], "would both be written to"),
        (["predict", str(tmp_path / "d1"), "-o", str(tmp_path / "out.png")], "need an output folder"),
    ]
    for args, message in cases:
        assert main(args + model) == 2, args
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert hashlib.sha256((tmp_path / "d1" / "x.jpg").read_bytes()).hexdigest() == original
    assert not (tmp_path / "clash").exists() and not (tmp_path / "flat").exists() and not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("option, value, message", [
    ("--light-jitter", "3", "must be in [0, 2]"), ("--light-jitter", "-0.1", "must be in [0, 2]"),
    ("--light-jitter", "nan", "must be in [0, 2]"),
    ("--bn-batches", "-1", "must be a whole number >= 0, got -1"), ("--bn-batches", "2.5", "invalid _count value"),
    ("--log-eps", "0", "must be a positive number, got 0"), ("--log-eps", "nan", "must be a positive number"),
    ("--log-eps", "inf", "must be a positive number"),
    ("--warmup", "-5", "must be a whole number >= 0, got -5"), ("--lr-decay", "linear", "invalid choice: 'linear'")])
def test_a_bad_training_setting_is_a_usage_error_before_anything_is_written(photo_folder, tmp_path, capsys,
                                                                            option, value, message):
    with pytest.raises(SystemExit) as stop:
        main(["train", "--data", str(photo_folder), "--out", str(tmp_path / "run"), "--steps", "1", option, value])
    assert stop.value.code == 2
    assert f"{option}: {message}" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_evaluate_skips_gray_and_unreadable_photos_and_takes_a_single_file(tmp_path, model_file, capsys):
    folder = tmp_path / "eval"
    folder.mkdir()
    Image.fromarray(synthetic_photo()).save(folder / "colour.png")
    Image.fromarray(synthetic_photo()).convert("L").convert("RGB").save(folder / "gray.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    assert main(["evaluate", "--data", str(folder), "--checkpoint", str(model_file)]) == 0
    captured = capsys.readouterr()
    assert "skipping" in captured.err and "gray.png: gray (no colour truth" in captured.err
    assert "broken.jpg" in captured.err and "inf" not in captured.out and "colour.png" in captured.out
    assert "1 of 1 photos" in captured.out or "0 of 1 photos" in captured.out
    assert main(["evaluate", "--data", str(folder / "colour.png"), "--checkpoint", str(model_file)]) == 0
    assert main(["evaluate", "--data", str(folder / "gray.png"), "--checkpoint", str(model_file)]) == 1
    assert "is a readable colour photo" in capsys.readouterr().err


def test_the_commands_introduce_themselves(capsys):
    assert main([]) == 2 and "predict" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("colorize ")
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert "(default: 16)" in text and "(default: huber)" in text and "(default: None)" not in text
    for package in ("colorize", "enhance"):
        result = subprocess.run([sys.executable, "-m", package, "--version"], capture_output=True, text=True)
        assert result.returncode == 0 and result.stdout.startswith(package), result.stderr
    from enhance.cli import main as enhance_main
    assert enhance_main([]) == 2 and "enhance --list" in capsys.readouterr().err


def test_predict_keeps_exif_and_attaches_only_a_fitting_icc_profile(tmp_path, model_file):
    from PIL import ImageCms

    from tests.enhance.test_cli import camera_jpeg

    icc = camera_jpeg(tmp_path / "colour.jpg", synthetic_photo())
    exif = Image.Exif()
    exif[0x010F] = "Scanner Co"
    gray_icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()[:16] + b"GRAY" + b"\0" * 108
    Image.fromarray(synthetic_photo()[..., 1]).save(tmp_path / "gray.jpg", exif=exif.tobytes(), icc_profile=gray_icc)
    for name in ("colour", "gray"):
        assert main(["predict", str(tmp_path / f"{name}.jpg"), "-o", str(tmp_path / f"{name}-out.jpg"),
                     "--checkpoint", str(model_file), "--quality", "90"]) == 0
    with Image.open(tmp_path / "colour-out.jpg") as out:
        assert out.getexif()[0x010F] == "Camera Co" and out.info.get("icc_profile") == icc
        assert not out.getexif().get_ifd(0x8825)
    with Image.open(tmp_path / "gray-out.jpg") as out:   # a gray profile does not describe the RGB result
        assert out.getexif()[0x010F] == "Scanner Co" and "icc_profile" not in out.info


def test_export_and_evaluate_with_an_output_shrink(photo_folder, tmp_path, model_file, capsys):
    shrunk = tmp_path / "shrunk.npz"
    assert main(["export", str(model_file), str(shrunk), "--shrink", "5"]) == 0
    assert nn.load(shrunk)["config"]["model"]["shrink"] == 5.0
    scores = {}
    for name, args in (("plain", ["--checkpoint", str(model_file)]), ("shrunk", ["--checkpoint", str(shrunk)]),
                       ("asked", ["--checkpoint", str(model_file), "--shrink", "5"]),
                       ("undone", ["--checkpoint", str(shrunk), "--shrink", "0"])):
        assert main(["evaluate", "--data", str(photo_folder), *args, "--json", str(tmp_path / f"{name}.json")]) == 0
        scores[name] = json.loads((tmp_path / f"{name}.json").read_text())["mean"]
    assert scores["shrunk"] == scores["asked"] and scores["undone"] == scores["plain"]
    assert scores["shrunk"]["colorfulness"] < scores["plain"]["colorfulness"]
    for value in ("-1", "110", "nan"):
        with pytest.raises(SystemExit) as stop:
            main(["export", str(model_file), str(tmp_path / "bad.npz"), "--shrink", value])
        assert stop.value.code == 2 and "--shrink: must be a chroma in Lab units" in capsys.readouterr().err
    assert not (tmp_path / "bad.npz").exists()


def test_a_model_with_an_output_shrink_can_be_fine_tuned(photo_folder, tmp_path, model_file, capsys):
    shrunk = tmp_path / "shrunk.npz"
    assert main(["export", str(model_file), str(shrunk), "--shrink", "3"]) == 0
    assert main(["train", "--data", str(photo_folder), "--out", str(tmp_path / "run"), "--steps", "1",
                 "--batch-size", "2", "--crop", "16", "--width", "2", "--init", str(shrunk), "--no-progress",
                 "--bn-batches", "1"]) == 0
    assert "starting from the weights of" in capsys.readouterr().err


def test_export_and_evaluate_a_bins_model_at_another_temperature(photo_folder, tmp_path, model_file, capsys):
    model = Colorizer(hidden_layers=18, width=2, head="bins", seed=0)
    bins_file = tmp_path / "bins.npz"
    nn.save(bins_file, {"format": "colorize-model", "config": {"model": model.config}, "model": dict(model.state_dict())})
    bold = tmp_path / "bold.npz"
    assert main(["export", str(bins_file), str(bold), "--temperature", "0.2"]) == 0
    assert nn.load(bold)["config"]["model"]["temperature"] == 0.2
    scores = {}
    for name, args in (("default", ["--checkpoint", str(bins_file)]), ("bold", ["--checkpoint", str(bold)]),
                       ("asked", ["--checkpoint", str(bins_file), "--temperature", "0.2"])):
        assert main(["evaluate", "--data", str(photo_folder), *args, "--json", str(tmp_path / f"{name}.json")]) == 0
        scores[name] = json.loads((tmp_path / f"{name}.json").read_text())["mean"]
    assert scores["bold"] == scores["asked"] != scores["default"]
    capsys.readouterr()
    assert main(["export", str(model_file), str(tmp_path / "bad.npz"), "--temperature", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "--temperature: this model has the regression head" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "bad.npz").exists()
    with pytest.raises(SystemExit) as stop:
        main(["export", str(bins_file), str(tmp_path / "bad.npz"), "--temperature", "0"])
    assert stop.value.code == 2 and "--temperature: must be in (0, 10]" in capsys.readouterr().err


@pytest.mark.parametrize("output", ["out.gif", "result", "out.xyz"])
def test_one_input_and_an_output_that_is_no_image_name_is_a_usage_error(tmp_path, model_file, capsys, output):
    Image.fromarray(synthetic_photo()).save(tmp_path / "in.png")
    code = main(["predict", str(tmp_path / "in.png"), "-o", str(tmp_path / output), "--checkpoint", str(model_file)])
    err = capsys.readouterr().err
    assert code == 2 and "image extension" in err and "end the path with /" in err
    assert not (tmp_path / output).exists()


def test_one_input_into_a_folder_named_with_a_slash_or_existing(tmp_path, model_file):
    Image.fromarray(synthetic_photo()).save(tmp_path / "in.png")
    assert main(["predict", str(tmp_path / "in.png"), "-o", f"{tmp_path / 'results'}/", "--checkpoint", str(model_file)]) == 0
    assert (tmp_path / "results" / "in.png").is_file()
    (tmp_path / "existing").mkdir()
    assert main(["predict", str(tmp_path / "in.png"), "-o", str(tmp_path / "existing"), "--checkpoint", str(model_file)]) == 0
    assert (tmp_path / "existing" / "in.png").is_file()


@pytest.mark.parametrize("command", ["export", "demo"])
def test_export_and_demo_never_replace_a_file_unasked(tmp_path, model_file, capsys, command):
    target = tmp_path / ("model.out.npz" if command == "export" else "figure.png")
    target.write_bytes(b"precious")
    args = ([command, str(model_file), str(target)] if command == "export"
            else [command, "-o", str(target), "--checkpoint", str(model_file)])
    assert main(args) == 2
    assert "exists" in capsys.readouterr().err and target.read_bytes() == b"precious"
    assert main(args + ["--overwrite"]) == 0
    assert target.read_bytes() != b"precious"


def test_a_new_training_run_in_a_used_folder_exits_2_naming_its_step(photo_folder, tmp_path, capsys):
    common = ["train", "--data", str(photo_folder), "--out", str(tmp_path / "run"), "--batch-size", "2", "--crop", "16",
              "--width", "2", "--hidden-layers", "6", "--checkpoint-every", "3", "--no-progress", "--bn-batches", "1"]
    assert main(common + ["--steps", "3"]) == 0
    capsys.readouterr()
    assert main(common + ["--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert "holds a run at step 3" in err and "--resume" in err and err.count("\n") == 1
    assert main(common + ["--steps", "2", "--resume", "--overwrite"]) == 2


def test_a_port_out_of_range_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--port", "80000"])
    assert exit_info.value.code == 2 and "port number 0-65535" in capsys.readouterr().err


class _ClosedPipe:
    """stdout of a command piped into 'head' after head has exited."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self):
        import io
        raise io.UnsupportedOperation("fileno")


@pytest.mark.parametrize("which", ["colorize", "enhance"])
def test_a_closed_pipe_ends_the_command_quietly(monkeypatch, capsys, which):
    from enhance.cli import main as enhance_main

    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    code = main(["model-summary", "--width", "2"]) if which == "colorize" else enhance_main(["--list"])
    assert code == 141
    assert capsys.readouterr().err == ""


def test_quiet_training_prints_nothing(photo_folder, tmp_path, capsys):
    assert main(["train", "--data", str(photo_folder), "--out", str(tmp_path / "run"), "--steps", "2", "--batch-size", "2",
                 "--crop", "16", "--width", "2", "--hidden-layers", "6", "--bn-batches", "1", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_a_working_size_that_cannot_fit_in_memory_is_refused_before_any_work(tmp_path, model_file, capsys, monkeypatch):
    from colorize import infer

    Image.fromarray(synthetic_photo(400, 300)).save(tmp_path / "big.png")
    monkeypatch.setattr(infer, "available_memory", lambda: 50_000_000)          # 50 MB free
    code = main(["predict", str(tmp_path / "big.png"), "-o", str(tmp_path / "out.png"), "--size", "400",
                 "--checkpoint", str(model_file)])
    err = capsys.readouterr().err
    assert code == 2 and "needs about 0.3 GB" in err and "smaller --size" in err and err.count("\n") == 1
    assert not (tmp_path / "out.png").exists()
    assert main(["predict", str(tmp_path / "big.png"), "-o", str(tmp_path / "out.png"), "--size", "128",
                 "--checkpoint", str(model_file)]) == 0


def test_an_output_place_that_cannot_be_written_is_found_before_the_network_runs(tmp_path, model_file, capsys,
                                                                                monkeypatch):
    from colorize import cli

    Image.fromarray(synthetic_photo()).save(tmp_path / "in.png")
    (tmp_path / "note.txt").write_text("a file")
    ran = []
    monkeypatch.setattr(cli, "colorize", lambda *a, **k: ran.append(1))
    code = main(["predict", str(tmp_path / "in.png"), "-o", str(tmp_path / "note.txt" / "out.png"),
                 "--checkpoint", str(model_file)])
    err = capsys.readouterr().err
    assert code == 1 and "note.txt is a file, not a folder" in err and err.count("\n") == 1 and not ran


def test_a_folder_run_stops_at_the_first_result_it_cannot_write_naming_it(photo_folder, tmp_path, model_file, capsys,
                                                                         monkeypatch):
    import errno

    from colorize import cli

    def refuse(path, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", f"{path}.hidden.tmp")

    monkeypatch.setattr(cli, "write_image", refuse)
    code = main(["predict", str(photo_folder), "-o", str(tmp_path / "out"), "--checkpoint", str(model_file)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("cannot write") == 1 and "Read-only file system" in err
    assert ".tmp" not in err and str(tmp_path / "out") in err


def test_the_same_mistake_exits_2_in_both_commands(tmp_path, model_file, capsys):
    """The exit rule of the README: 2 when the command line is wrong, 1 when the work failed."""
    from enhance.cli import main as enhance_main

    Image.fromarray(synthetic_photo()).save(tmp_path / "in.png")
    assert main(["predict", str(tmp_path / "in.png"), "-o", str(tmp_path / "a.png"), "--checkpoint", str(model_file),
                 "--enhance", "gamma:-1"]) == 2
    assert enhance_main([str(tmp_path / "in.png"), str(tmp_path / "b.png"), "gamma:-1"]) == 2
    assert main(["predict", str(tmp_path / "in.png"), "-o", str(tmp_path / "c.png"), "--checkpoint", str(model_file),
                 "--format", "png"]) == 2
    assert "--format is for folder output" in capsys.readouterr().err


def test_resume_applies_what_the_command_line_gives_even_at_its_default(photo_folder, tmp_path, capsys):
    """--lr 1e-4 on resume is a request, though 1e-4 is the default; an option left out changes nothing."""
    common = ["train", "--data", str(photo_folder), "--out", str(tmp_path / "run"), "--batch-size", "2", "--crop", "16",
              "--width", "2", "--hidden-layers", "6", "--no-progress", "--bn-batches", "1"]
    assert main(common + ["--steps", "2", "--lr", "1e-3", "--checkpoint-every", "1"]) == 0
    capsys.readouterr()
    assert main(["train", "--data", str(photo_folder), "--out", str(tmp_path / "run"), "--resume", "--steps", "3",
                 "--no-progress"]) == 0
    assert "changed on resume" not in capsys.readouterr().err          # nothing given, nothing changed
    assert main(["train", "--data", str(photo_folder), "--out", str(tmp_path / "run"), "--resume", "--steps", "4",
                 "--lr", "1e-4", "--no-progress"]) == 0
    assert "changed on resume: lr 0.001 -> 0.0001" in capsys.readouterr().err
    notes = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert {"step": 3, "resumed_with": {"lr": {"from": 0.001, "to": 0.0001}}} in notes


def test_train_options_are_the_training_settings_fields_with_their_defaults():
    from dataclasses import fields

    from colorize.cli import build_parser, training_settings
    from colorize.train import TrainingSettings

    args = build_parser().parse_args(["train", "--data", "d", "--out", "o", "--steps", "7"])
    assert training_settings(args) == TrainingSettings(steps=7)           # every default is the dataclass's
    options = {action.dest for action in build_parser().train_parser._actions}
    run_control = {"help", "data", "out", "resume", "overwrite", "init", "no_progress", "quiet"}
    offered = {f.name for f in fields(TrainingSettings) if "help" in f.metadata}
    assert options - run_control == offered and offered >= {"loss", "skips", "bn_batches", "hints"}
    flipped = build_parser().parse_args(["train", "--data", "d", "--out", "o", "--steps", "1", "--no-skips",
                                         "--global-context", "--loss", "logmse", "--val-fraction", "0.2"])
    assert training_settings(flipped) == TrainingSettings(steps=1, skips=False, context=True, loss="logmse",
                                                          val_fraction=0.2)


def test_model_summary_describes_the_default_training_network(capsys):
    from colorize.train import TrainingSettings

    assert main(["model-summary"]) == 0
    defaults = TrainingSettings()
    network = Colorizer(hidden_layers=defaults.hidden_layers, width=defaults.width, norm=defaults.norm)
    count = sum(p.data.size for p in network.parameters())
    assert f"total: {count:,} parameters" in capsys.readouterr().out
