"""Training: learning really happens, checkpoints resume exactly, failures lose nothing."""
import json
import os
import signal

import numpy as np
import pytest
from PIL import Image

import nnscratch as nn
from colorize import train
from colorize.evaluate import score_photo
from colorize.infer import load_model
from colorize.checkpoints import latest_checkpoint
from colorize.train import NothingToResume, TrainingError, TrainingInterrupted
from tests.conftest import synthetic_photo

SMALL = dict(batch_size=2, crop=16, width=4, hidden_layers=8, checkpoint_every=2, progress=False, log_every=1)


def train_on_one_photo(tmp_path, **options):
    """200 steps on a single 32-px photo; returns the logged losses and the photo."""
    folder = tmp_path / "one"
    folder.mkdir()
    photo = synthetic_photo(32, 32, seed=1)
    Image.fromarray(photo).save(folder / "only.png")
    records = train(data=folder, out=tmp_path / "run", steps=200, batch_size=2, crop=32, width=8, hidden_layers=8,
                    lr=3e-3, scale=(1.0, 1.0), checkpoint_every=200, progress=False, log_every=1, **options)
    return [r["loss"] for r in records if "loss" in r], photo


def test_overfitting_one_image_cuts_the_loss_tenfold_and_beats_the_grayscale_baseline(tmp_path):
    losses, photo = train_on_one_photo(tmp_path)
    assert np.mean(losses[-10:]) * 10 <= np.mean(losses[:3]), losses
    scores = score_photo(load_model(tmp_path / "run"), photo, size=None)
    assert scores["psnr"] >= scores["psnr_gray"] + 5, scores
    assert (tmp_path / "run" / "loss.png").stat().st_size > 1000
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["hidden_layers"] == 8


@pytest.mark.filterwarnings("error::UserWarning")     # its loss plot: a negative loss on a linear axis
def test_the_per_crop_log_mse_loss_trains_the_network_too(tmp_path):
    losses, photo = train_on_one_photo(tmp_path, loss="logmse")
    assert np.mean(losses[-10:]) <= np.mean(losses[:3]) - np.log(10), losses    # the crops' MSE 10x lower
    scores = score_photo(load_model(tmp_path / "run"), photo, size=None)
    assert scores["psnr"] >= scores["psnr_gray"] + 5, scores
    assert json.loads((tmp_path / "run" / "config.json").read_text())["loss"] == "logmse"
    assert (tmp_path / "run" / "loss.png").stat().st_size > 1000


def test_the_log_mse_floor_is_a_setting_of_the_run(photo_folder, tmp_path):
    """One crop, one step, same seed: the first loss is log(crop MSE + floor) for each floor."""
    first = {}
    for eps in (1e-8, 0.1):
        records = train(data=photo_folder, out=tmp_path / str(eps), steps=1, loss="logmse", log_eps=eps,
                        **{**SMALL, "batch_size": 1})
        first[eps] = next(r["loss"] for r in records if "loss" in r)
        assert json.loads((tmp_path / str(eps) / "config.json").read_text())["log_eps"] == eps
    crop_mse = np.exp(first[1e-8]) - 1e-8
    assert 1e-4 < crop_mse < 1
    assert first[0.1] == pytest.approx(np.log(crop_mse + 0.1), rel=1e-5)
    for bad in (0.0, -1e-3, float("nan")):
        with pytest.raises(ValueError, match="log_eps"):
            train(data=photo_folder, out=tmp_path / "bad", steps=1, loss="logmse", log_eps=bad, **SMALL)
    assert not (tmp_path / "bad").exists()


def weights(run):
    return nn.load(latest_checkpoint(run))


def assert_same_state(first, second):
    assert first["step"] == second["step"]
    for name, value in first["model"].items():
        np.testing.assert_array_equal(value, second["model"][name], err_msg=name)
    for index, state in first["optimizer"]["state"].items():
        for key, value in state.items():
            np.testing.assert_array_equal(value, second["optimizer"]["state"][index][key])
    assert first["ema"].keys() == second["ema"].keys()
    for name, value in first["ema"].items():
        np.testing.assert_array_equal(value, second["ema"][name], err_msg=f"ema {name}")


@pytest.mark.parametrize("hints, light_jitter, schedule", [
    (False, 0.0, {}), (True, 0.0, {}), (True, 0.3, {}), (False, 0.0, {"warmup": 2, "lr_decay": "cosine"})])
def test_interrupted_and_resumed_run_equals_an_uninterrupted_one(photo_folder, tmp_path, hints, light_jitter, schedule):
    train(data=photo_folder, out=tmp_path / "straight", steps=6, hints=hints, light_jitter=light_jitter, **schedule,
          **SMALL)
    train(data=photo_folder, out=tmp_path / "pieces", steps=6, stop_after=3, hints=hints, light_jitter=light_jitter,
          **schedule, **SMALL)
    assert weights(tmp_path / "pieces")["step"] == 3
    assert weights(tmp_path / "pieces")["config"]["light_jitter"] == light_jitter
    train(data=photo_folder, out=tmp_path / "pieces", resume=True, progress=False)
    assert_same_state(weights(tmp_path / "straight"), weights(tmp_path / "pieces"))
    steps = [r["step"] for r in map(json.loads, (tmp_path / "pieces" / "metrics.jsonl").read_text().splitlines())
             if "loss" in r]
    assert steps == [1, 2, 3, 4, 5, 6]


def interrupt_at(monkeypatch, interrupted_step):
    """Send this process a Ctrl-C (SIGINT) as step ``interrupted_step`` (counted from 0) starts
    computing, from the main thread, so that the moment is exact.  Returns a function that undoes it."""
    import importlib

    train_module = importlib.import_module("colorize.train")   # the module, not the function of that name
    original = train_module.gradients
    calls = []

    def gradients(*args, **kwargs):
        calls.append(None)
        if len(calls) == interrupted_step + 1:
            os.kill(os.getpid(), signal.SIGINT)
        return original(*args, **kwargs)

    monkeypatch.setattr(train_module, "gradients", gradients)
    return lambda: monkeypatch.setattr(train_module, "gradients", original)


def test_ctrl_c_saves_a_checkpoint_after_the_current_step(photo_folder, tmp_path, monkeypatch):
    undo = interrupt_at(monkeypatch, 2)
    with pytest.raises(TrainingInterrupted) as interrupted:
        train(data=photo_folder, out=tmp_path / "run", steps=6, **{**SMALL, "checkpoint_every": 100})
    assert interrupted.value.step == 3 and isinstance(interrupted.value, KeyboardInterrupt)
    assert weights(tmp_path / "run")["step"] == 3
    undo()
    train(data=photo_folder, out=tmp_path / "run", resume=True, progress=False)
    train(data=photo_folder, out=tmp_path / "straight", steps=6, **{**SMALL, "checkpoint_every": 100})
    assert_same_state(weights(tmp_path / "straight"), weights(tmp_path / "run"))


def test_a_nan_loss_stops_with_a_clear_message_and_keeps_the_last_checkpoint(photo_folder, tmp_path, monkeypatch):
    import importlib

    train_module = importlib.import_module("colorize.train")  # the module, not the function of that name

    class PoisonedLoss(nn.MSELoss):
        calls = 0

        def compute(self, pred, target):
            PoisonedLoss.calls += 1
            value = super().compute(pred, target)
            return value * np.nan if PoisonedLoss.calls == 5 else value

    monkeypatch.setitem(train_module.LOSSES, "mse", lambda eps: PoisonedLoss())
    with pytest.raises(TrainingError, match=r"loss became nan at step 4.*checkpoint \(step 4\) is intact"):
        train(data=photo_folder, out=tmp_path / "run", steps=10, loss="mse", **SMALL)
    state = weights(tmp_path / "run")
    assert state["step"] == 4 and all(np.isfinite(v).all() for v in state["model"].values())


def test_only_the_last_checkpoints_are_kept_and_a_damaged_one_is_passed_over(photo_folder, tmp_path, capsys):
    train(data=photo_folder, out=tmp_path / "run", steps=8, keep_checkpoints=2, **{**SMALL, "checkpoint_every": 2})
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert names == ["step-00000006.npz", "step-00000008.npz"]
    newest = tmp_path / "run" / "checkpoints" / "step-00000008.npz"
    newest.write_bytes(newest.read_bytes()[:100])
    assert latest_checkpoint(tmp_path / "run", print).name == "step-00000006.npz"
    assert "passing over unreadable checkpoint" in capsys.readouterr().out


def test_validation_is_logged_at_checkpoints(photo_folder, tmp_path):
    records = train(data=photo_folder, out=tmp_path / "run", steps=4, val_fraction=0.25, **SMALL)
    val = [r for r in records if "val_psnr" in r]
    assert [r["step"] for r in val] == [2, 4]
    assert all(np.isfinite(r["val_psnr"]) and r["val_psnr_gray"] > 0 for r in val)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert len(config["val_images"]) == 1 and len(config["train_images"]) == 3


def test_seeded_runs_are_reproducible_and_settings_are_checked(photo_folder, tmp_path):
    train(data=photo_folder, out=tmp_path / "a", steps=2, **SMALL)
    train(data=photo_folder, out=tmp_path / "b", steps=2, **SMALL)
    assert_same_state(weights(tmp_path / "a"), weights(tmp_path / "b"))
    with pytest.raises(ValueError, match="exactly one of steps and epochs"):
        train(data=photo_folder, out=tmp_path / "c", progress=False)
    with pytest.raises(ValueError, match="loss must be one of"):
        train(data=photo_folder, out=tmp_path / "c", steps=1, loss="hinge", progress=False)


def test_resume_with_nothing_readable_is_an_error_that_touches_nothing(photo_folder, tmp_path):
    with pytest.raises(NothingToResume, match="no checkpoints"):
        train(data=photo_folder, out=tmp_path / "empty", resume=True, progress=False)
    assert not (tmp_path / "empty").exists()
    run = tmp_path / "run"
    train(data=photo_folder, out=run, steps=2, **SMALL)
    for checkpoint in (run / "checkpoints").glob("step-*.npz"):
        checkpoint.write_bytes(b"damaged")
    metrics = (run / "metrics.jsonl").read_bytes()
    with pytest.raises(NothingToResume, match=r"passing over unreadable checkpoint .*step-00000002\.npz"):
        train(data=photo_folder, out=run, resume=True, progress=False)
    assert (run / "metrics.jsonl").read_bytes() == metrics


def test_cli_ctrl_c_says_where_it_stopped_and_exits_130_and_messages_survive_no_progress(
        photo_folder, tmp_path, monkeypatch, capsys):
    from colorize.cli import main

    undo = interrupt_at(monkeypatch, 1)
    args = ["train", "--data", str(photo_folder), "--out", str(tmp_path / "run"), "--steps", "5", "--batch-size", "2",
            "--crop", "16", "--width", "2", "--val-fraction", "0.25", "--checkpoint-every", "1"]
    assert main(args + ["--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "interrupted at step 2" in err and "--resume" in err and "validation PSNR" in err
    undo()
    assert main(args + ["--resume", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""          # --quiet: nothing but errors
    assert weights(tmp_path / "run")["step"] == 5
    assert main(["train", "--data", str(photo_folder), "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_resume_applies_safe_changes_names_the_others_and_init_fine_tunes(photo_folder, tmp_path, capsys):
    run = tmp_path / "run"
    train(data=photo_folder, out=run, steps=2, **SMALL)
    capsys.readouterr()
    train(data=photo_folder, out=run, steps=3, resume=True, lr=1e-3, crop=32, progress=False, log_every=1)
    err = capsys.readouterr().err
    assert "changed on resume: lr 0.0001 -> 0.001" in err
    assert "the checkpoint's settings are kept: crop=16 (asked 32)" in err
    state = weights(run)
    assert state["optimizer"]["hyperparameters"]["lr"] == 1e-3 and state["config"]["crop"] == 16
    notes = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"step": 2, "resumed_with": {"lr": {"from": 0.0001, "to": 0.001}}} in notes
    # fine-tuning: a new run starts from the first run's (averaged) weights, with a fresh optimizer
    train(data=photo_folder, out=tmp_path / "tuned", steps=1, init=run, **SMALL)
    tuned = nn.load(tmp_path / "tuned" / "checkpoints" / "step-00000001.npz")
    assert tuned["optimizer"]["state"]["0"]["step"] == 1
    start = load_model(run).state_dict()
    name = "enc0.conv.weight"
    assert np.abs(tuned["model"][name] - start[name]).max() < 1e-3        # one small step away
    with pytest.raises(ValueError, match="differs from this run's"):
        train(data=photo_folder, out=tmp_path / "other", steps=1, init=run, **{**SMALL, "width": 8})


def test_crops_are_cut_while_the_network_runs_and_the_wait_is_recorded(photo_folder, tmp_path):
    records = train(data=photo_folder, out=tmp_path / "run", steps=4, **{**SMALL, "log_every": 2})
    waits = [r["data_wait"] for r in records if "loss" in r]
    assert len(waits) == 2 and all(0 <= w < 1 for w in waits)


def test_one_settings_object_serves_the_command_line_the_api_and_the_checkpoint(photo_folder, tmp_path):
    from dataclasses import asdict

    from colorize.cli import build_parser, training_settings
    from colorize.train import TrainingSettings

    args = build_parser().parse_args(["train", "--data", str(photo_folder), "--out", str(tmp_path / "cli"),
                                      "--steps", "2", "--batch-size", "2", "--crop", "16", "--width", "4",
                                      "--hidden-layers", "8", "--no-skips", "--hints", "--checkpoint-every", "2",
                                      "--light-jitter", "0.2", "--bn-batches", "3", "--global-context",
                                      "--warmup", "1", "--lr-decay", "cosine"])
    settings = training_settings(args)
    assert settings == TrainingSettings(steps=2, batch_size=2, crop=16, width=4, hidden_layers=8, skips=False,
                                        hints=True, checkpoint_every=2, light_jitter=0.2, bn_batches=3, context=True,
                                        warmup=1, lr_decay="cosine")
    train(photo_folder, tmp_path / "object", settings, progress=False)
    train(photo_folder, tmp_path / "keywords", progress=False, **asdict(settings))
    assert_same_state(weights(tmp_path / "object"), weights(tmp_path / "keywords"))
    stored = json.loads((tmp_path / "object" / "config.json").read_text())
    assert stored["model"] == {"hidden_layers": 8, "width": 4, "norm": "batch", "hints": True, "skips": False,
                               "context": True}
    assert {k: stored[k] for k in ("steps", "batch_size", "crop", "checkpoint_every", "light_jitter", "bn_batches")} == \
        {"steps": 2, "batch_size": 2, "crop": 16, "checkpoint_every": 2, "light_jitter": 0.2, "bn_batches": 3}
    with pytest.raises(TypeError):
        train(photo_folder, tmp_path / "typo", steps=2, batchsize=2)


def test_weight_decay_reaches_adam_and_may_change_on_resume(photo_folder, tmp_path):
    train(data=photo_folder, out=tmp_path / "run", steps=2, weight_decay=0.01, **SMALL)
    assert weights(tmp_path / "run")["optimizer"]["hyperparameters"]["weight_decay"] == pytest.approx(0.01)
    train(data=photo_folder, out=tmp_path / "run", steps=4, resume=True, weight_decay=0.001, progress=False)
    state = weights(tmp_path / "run")
    assert state["step"] == 4 and state["optimizer"]["hyperparameters"]["weight_decay"] == pytest.approx(0.001)
    assert state["config"]["weight_decay"] == pytest.approx(0.001)


def test_the_learning_rate_schedule_sets_each_step_s_rate_and_is_checked_before_anything_is_written(
        photo_folder, tmp_path):
    records = train(data=photo_folder, out=tmp_path / "run", steps=6, warmup=2, lr_decay="cosine", lr=1e-3, **SMALL)
    used = [r["lr"] for r in records if "loss" in r]              # the rate of the step each record closes
    expected = [5e-4, 1e-3] + [1e-3 * (1 + np.cos(np.pi * k / 4)) / 2 for k in range(4)]   # 1e-3 down to 0 at 6
    np.testing.assert_allclose(used, expected, rtol=1e-12, atol=1e-20)
    constant = train(data=photo_folder, out=tmp_path / "constant", steps=6, lr=1e-3, **SMALL)
    assert [r["lr"] for r in constant if "loss" in r] == [1e-3] * 6
    stored = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (stored["warmup"], stored["lr_decay"]) == (2, "cosine")
    for bad, message in [(dict(warmup=6), "warm-up .6 steps. must be shorter than the run .6 steps."),
                         (dict(warmup=-1), "warmup must be"), (dict(lr_decay="step"), "lr_decay must be one of")]:
        with pytest.raises(ValueError, match=message):
            train(data=photo_folder, out=tmp_path / "bad", steps=6, **bad, **SMALL)
    assert not (tmp_path / "bad").exists()


def test_the_averaged_weights_get_batch_norm_statistics_of_their_own(photo_folder, tmp_path):
    """The moving average is validated and exported with statistics computed for its own weights over
    fixed training batches; training itself (the live weights, Adam, the average's weights) is
    exactly that of a run without the recomputation, which keeps the live network's statistics."""
    from colorize.train import CalibrationBatches

    settings = dict(SMALL, steps=4, hints=True, val_fraction=0.25)
    train(data=photo_folder, out=tmp_path / "own", bn_batches=3, **settings)
    train(data=photo_folder, out=tmp_path / "live", bn_batches=0, **settings)
    own, live = weights(tmp_path / "own"), weights(tmp_path / "live")
    for name, value in live["model"].items():
        np.testing.assert_array_equal(value, own["model"][name], err_msg=name)
    parameters = [name for name, _ in build(own).named_parameters()]
    for name in parameters:
        np.testing.assert_array_equal(live["ema"][name], own["ema"][name], err_msg=f"ema {name}")
    for name in ("enc0.norm.running_mean", "enc0.norm.running_var"):
        np.testing.assert_array_equal(live["ema"][name], live["model"][name])      # the live network's
        assert np.abs(own["ema"][name] - live["model"][name]).max() > 1e-4, name  # its own
    assert int(own["ema"]["enc0.norm.num_batches_tracked"]) == 3
    # the first layer's statistics by hand: the averaged first convolution's output on each of the
    # three batches, its per-channel mean and unbiased variance, averaged over the batches
    conv = nn.Conv2d(4, 4, 3, padding=1, bias=False).double()
    conv.weight.data = own["ema"]["enc0.conv.weight"].astype(np.float64)
    config = own["config"]
    outputs = [conv.forward(batch.astype(np.float64)) for batch in CalibrationBatches(*calibration_args(config))]
    assert len(outputs) == 3 and outputs[0].shape == (2, 4, 16, 16)
    np.testing.assert_allclose(own["ema"]["enc0.norm.running_mean"], np.mean([o.mean(axis=(0, 2, 3)) for o in outputs], 0),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(own["ema"]["enc0.norm.running_var"],
                               np.mean([o.var(axis=(0, 2, 3), ddof=1) for o in outputs], 0), rtol=1e-4, atol=1e-6)
    # validation scored the model that the checkpoint (and so an export) holds
    from colorize.evaluate import evaluate_photos
    from enhance import read_image
    record = [r for r in map(json.loads, (tmp_path / "own" / "metrics.jsonl").read_text().splitlines())
              if "val_psnr" in r][-1]
    photos = [(p.split("/")[-1], read_image(p)) for p in config["val_images"]]
    scored = evaluate_photos(load_model(latest_checkpoint(tmp_path / "own")), photos, size=None,
                             image_size=config["val_size"])["mean"]
    assert scored["psnr"] == pytest.approx(record["val_psnr"], abs=1e-9)


def build(state):
    from colorize.model import build_model
    return build_model(state["config"]["model"])


def calibration_args(config):
    from colorize.data import PhotoSet
    photos = PhotoSet.from_paths(config["train_images"], config["min_colorfulness"], min_side=8, report=False,
                                 max_side=config["photo_size"])
    return photos, config, config["model"]["hints"]


def test_the_classification_loss_trains_a_bins_head_that_beats_the_grayscale_baseline(tmp_path):
    losses, photo = train_on_one_photo(tmp_path, loss="bins")
    assert np.mean(losses[-10:]) * 2 <= np.mean(losses[:3]), losses
    model = load_model(tmp_path / "run")
    assert model.config["head"] == "bins"
    scores = score_photo(model, photo, size=None)
    assert scores["psnr"] >= scores["psnr_gray"] + 5, scores
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["loss"] == "bins" and config["uniform_mix"] == 0.5


def test_a_regression_network_starts_a_bins_network_whose_head_starts_fresh(photo_folder, tmp_path, capsys):
    train(data=photo_folder, out=tmp_path / "regression", steps=1, **SMALL)
    capsys.readouterr()
    train(data=photo_folder, out=tmp_path / "bins", steps=1, loss="bins", init=tmp_path / "regression",
          **{**SMALL, "checkpoint_every": 1})
    assert "the output layer starts fresh (another head)" in capsys.readouterr().err
    donor, state = load_model(tmp_path / "regression").state_dict(), weights(tmp_path / "bins")["model"]
    differing = sorted(name for name in donor if state[name].shape != donor[name].shape)
    assert differing == ["head.conv.bias", "head.conv.weight"]        # the convolution before the tanh
    assert state["head.conv.weight"].shape[:2] == (261, 4)
    for name, value in donor.items():     # the rest of the body one small step away from the donor's
        if name not in differing and value.dtype.kind == "f" and "running" not in name:
            assert np.abs(state[name] - value).max() < 1e-3, name
    with pytest.raises(ValueError, match="uniform_mix"):
        train(data=photo_folder, out=tmp_path / "bad", steps=1, loss="bins", uniform_mix=2.0, **SMALL)
    assert not (tmp_path / "bad").exists()


def test_a_new_run_in_a_folder_holding_a_run_is_refused_and_loses_nothing(photo_folder, tmp_path):
    from colorize.train import RunExists

    run = tmp_path / "run"
    train(data=photo_folder, out=run, steps=4, **SMALL)
    before = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(RunExists, match=r"holds a run at step 4 .*--resume.*--overwrite"):
        train(data=photo_folder, out=run, steps=2, **SMALL)
    assert {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    train(data=photo_folder, out=run, steps=2, overwrite=True, **SMALL)        # asked for: starts again
    assert weights(run)["step"] == 2
    assert not (run / "checkpoints" / "step-00000004.npz").exists()
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 2


def test_a_diverging_run_stops_naming_the_learning_rate_and_keeps_a_finite_checkpoint(photo_folder, tmp_path):
    with pytest.raises(TrainingError, match=r"step \d+: training stopped.*lower learning rate \(--lr, 1e\+09"):
        train(data=photo_folder, out=tmp_path / "run", steps=20, lr=1e9, **SMALL)
    for path in (tmp_path / "run" / "checkpoints").glob("*.npz"):
        state = nn.load(path)
        for part in ("model", "ema"):
            assert all(np.isfinite(v).all() for v in state[part].values() if v.dtype.kind == "f"), (path, part)


def test_a_model_file_with_infinite_statistics_is_refused(photo_folder, tmp_path):
    from colorize.infer import ModelFileError

    train(data=photo_folder, out=tmp_path / "run", steps=2, **SMALL)
    path = latest_checkpoint(tmp_path / "run")
    state = nn.load(path)
    name = next(k for k in state["ema"] if k.endswith("running_var"))
    state["ema"][name] = np.full_like(state["ema"][name], np.inf)
    nn.save(tmp_path / "broken.npz", state)
    with pytest.raises(ModelFileError, match="infinite or NaN.*diverged"):
        load_model(tmp_path / "broken.npz")


def test_init_takes_the_source_networks_shape_unless_told_otherwise(photo_folder, tmp_path):
    """The README's fine-tune command: --init shipped with no shape options (the shipped network has hints)."""
    records = train(data=photo_folder, out=tmp_path / "run", steps=1, batch_size=2, crop=16, init="shipped",
                    checkpoint_every=1, bn_batches=1, progress=False)
    config = json.loads((tmp_path / "run" / "config.json").read_text())["model"]
    assert config["hints"] is True and config["width"] == 32 and records
    with pytest.raises(ValueError, match="differs from this run"):
        train(data=photo_folder, out=tmp_path / "other", steps=1, batch_size=2, crop=16, init="shipped", width=8,
              progress=False)


def test_ctrl_c_stops_without_validating_and_resume_validates_again(photo_folder, tmp_path, monkeypatch):
    undo = interrupt_at(monkeypatch, 2)
    with pytest.raises(TrainingInterrupted):
        train(data=photo_folder, out=tmp_path / "run", steps=4, val=photo_folder, bn_batches=2,
              **{**SMALL, "checkpoint_every": 4})
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert not any("val_psnr" in r for r in records), "an interrupted step validates nothing"
    assert weights(tmp_path / "run")["step"] == 3
    undo()
    train(data=photo_folder, out=tmp_path / "run", resume=True, progress=False)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "val_psnr" in r] == [4]


def test_category_balance_is_a_setting_of_the_run_with_its_table(photo_folder, tmp_path, capsys):
    from colorize.cli import main

    table = tmp_path / "categories.tsv"
    table.write_text("file\tcategory\nphoto0.png\tfood\nphoto1.png\tplant\nphoto2.png\tplant\ndeep.jpg\tplant\n")
    train(data=photo_folder, out=tmp_path / "a", steps=2, balance=1.0, categories=str(table), **SMALL)
    train(data=photo_folder, out=tmp_path / "b", steps=2, balance=1.0, categories=str(table), **SMALL)
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["balance"] == 1.0 and config["categories"] == str(table)
    assert_same_state(weights(tmp_path / "a"), weights(tmp_path / "b"))          # seeded: the same run
    train(data=photo_folder, out=tmp_path / "c", steps=2, **SMALL)
    assert not all(np.array_equal(a, b) for a, b in zip(weights(tmp_path / "a").values(),
                                                          weights(tmp_path / "c").values()))   # other crops
    with pytest.raises(ValueError, match="balance needs a table of categories"):
        train(data=photo_folder, out=tmp_path / "d", steps=1, balance=0.5, progress=False)
    assert main(["train", "--data", str(photo_folder), "--out", str(tmp_path / "e"), "--steps", "1",
                 "--balance", "0.5"]) == 2
    assert "balance needs a table of categories" in capsys.readouterr().err
