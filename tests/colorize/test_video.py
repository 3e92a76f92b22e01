"""colorize video: steady colour on built clips (a pan over a photo, a still with film grain, a cut, a
moving square with a point on it), the files (frame count, rate, size, audio, lightness), and the
mistakes of careless use."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorize import colorize
from colorize.cli import main
from colorize.hints import parse_color
from colorize.infer import combine, image_lightness, load_model, network_ab
from colorize.metrics import ab_of, psnr
from colorize.video import FrameColorizer, colorize_frames, estimate_shift, read_video_hints, shift_image

PHOTO = Path(__file__).parent / "data" / "scarlet_macaw.jpg"


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def photo():
    return np.asarray(Image.open(PHOTO).convert("RGB"))


def pan(photo, frames=12, step=3, height=160, width=224):
    """A camera panning right over the photo: frame t shows columns from ``step * t``."""
    return [np.ascontiguousarray(photo[40:40 + height, step * t:step * t + width]) for t in range(frames)]


def grainy_still(photo, frames=10, seed=0):
    """The photo held still, with a new film grain (and a little exposure flicker) on every frame."""
    rng = np.random.default_rng(seed)
    still = photo[40:200, 40:264].astype(np.float64)
    return [np.clip(still * rng.uniform(0.97, 1.03) + rng.normal(0, 4, still.shape[:2])[..., None], 0, 255)
            .astype(np.uint8) for _ in range(frames)]


@pytest.mark.parametrize("seed", range(3))
def test_the_shift_between_two_frames_is_found_from_their_lightness(photo, seed):
    rng = np.random.default_rng(seed)
    light = image_lightness(photo)[20:200, 20:280]
    dy, dx = (int(v) for v in rng.integers(-12, 13, size=2))
    assert estimate_shift(light, shift_image(light, dy, dx)) == (dy, dx)


def flicker(frames, mask=None):
    """Mean change of (a, b) from one frame to the next (over ``mask``), in Lab units."""
    steps = [np.hypot(*(ab_of(b) - ab_of(a)).transpose(2, 0, 1)) for a, b in zip(frames, frames[1:])]
    return float(np.mean([s[mask] if mask is not None else s for s in steps]))


def test_a_still_with_film_grain_flickers_far_less_than_frame_by_frame(model, photo):
    clip = grainy_still(photo)
    steady = list(colorize_frames(clip, model))
    alone = list(colorize_frames(clip, model, steady=False))
    assert flicker(steady) <= 0.4 * flicker(alone), (flicker(steady), flicker(alone))
    truth = photo[40:200, 40:264]
    gains = [np.mean([psnr(frame, truth) for frame in result]) for result in (steady, alone)]
    assert gains[0] >= gains[1] - 0.1, gains                                  # no worse than frame by frame


def test_a_pan_keeps_each_scene_points_colour(model, photo):
    clip, step = pan(photo), 3
    steady = list(colorize_frames(clip, model))
    alone = list(colorize_frames(clip, model, steady=False))

    def drift(frames):          # the spread over time of the colour of each scene point seen in every frame
        columns = slice(step * (len(frames) - 1), 224)                 # scene columns in view from first to last
        stack = np.stack([ab_of(frame)[:, columns.start - step * t:columns.stop - step * t]
                          for t, frame in enumerate(frames)])
        return float(np.hypot(*stack.std(axis=0).transpose(2, 0, 1)).mean())

    assert drift(steady) <= 0.5 * drift(alone), (drift(steady), drift(alone))
    truths = pan(photo)
    gains = [np.mean([psnr(f, t) for f, t in zip(result, truths)]) for result in (steady, alone)]
    assert gains[0] >= gains[1] - 0.1, gains


def test_a_cut_starts_afresh_and_drops_the_shots_points(model, photo):
    other = np.ascontiguousarray(np.asarray(Image.open(PHOTO).convert("L").convert("RGB"))[::-1, ::-1][40:200, :224])
    clip = pan(photo, frames=4) + [other] * 3
    colorizer = FrameColorizer(model)
    results = [colorizer(frame, [(80, 100, "#2050c0")] if index == 0 else ()) for index, frame in enumerate(clip)]
    assert colorizer.cuts == 1 and colorizer.points == []
    alone = FrameColorizer(model, steady=False)(other)
    np.testing.assert_array_equal(results[4], alone)                  # nothing carried over the cut


def moving_square(count=8):
    """A darker square moving 4 px right per frame over a flat background."""
    background = np.full((96, 128, 3), 150, dtype=np.uint8)
    background[..., 1] = 160
    frames = []
    for t in range(count):
        frame = background.copy()
        frame[30:60, 20 + 4 * t:50 + 4 * t] = (70, 70, 70)
        frames.append(frame)
    return frames


def test_a_point_on_the_first_frame_follows_its_object_to_the_last(model):
    frames = moving_square()
    red = "#c03020"
    results = list(colorize_frames(frames, model, hints={0: [(45, 35, red)]}))
    last = ab_of(results[-1])
    wanted = ab_of(np.array([[parse_color(red)]], dtype=np.uint8))[0, 0]
    inside, outside = last[35:55, 55:75].reshape(-1, 2).mean(axis=0), last[75:90, 5:120].reshape(-1, 2).mean(axis=0)
    automatic = ab_of(list(colorize_frames(frames[-1:], model))[0])
    assert np.hypot(*(inside - wanted)) < 0.3 * np.hypot(*(automatic[35:55, 55:75].reshape(-1, 2).mean(0) - wanted))
    assert np.hypot(*(outside - automatic[75:90, 5:120].reshape(-1, 2).mean(axis=0))) < 3


def test_video_points_files_are_checked(tmp_path):
    (tmp_path / "points.json").write_text(json.dumps([{"frame": 3, "y": 1, "x": 2, "color": "#c03020"},
                                                      {"frame": 3, "y": 5, "x": 6, "color": "#2050c0"}]))
    assert read_video_hints(tmp_path / "points.json") == {3: [(1, 2, "#c03020"), (5, 6, "#2050c0")]}
    (tmp_path / "bad.json").write_text(json.dumps([{"frame": -1, "y": 1, "x": 2, "color": "#c03020"}]))
    with pytest.raises(ValueError, match="point 1 is not"):
        read_video_hints(tmp_path / "bad.json")


# -- files (PyAV, the video extra) ------------------------------------------------------------------------

av = pytest.importorskip("av", reason="the video extra (PyAV) reads and writes video files")


def write_clip(path, frames, fps=12, audio=False, codec="libx264"):
    with av.open(str(path), "w") as output:
        video = output.add_stream(codec, rate=fps)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "bgr0" if codec == "ffv1" else "yuv420p"
        sound = output.add_stream("aac", rate=16000) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for frame in frames:
            output.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        output.mux(video.encode())
        if sound is not None:
            samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(16000 * len(frames) // fps) / 16000)).astype(np.float32)
            for start in range(0, len(samples), 1024):
                chunk = av.AudioFrame.from_ndarray(samples[None, start:start + 1024], format="flt", layout="mono")
                chunk.sample_rate, chunk.pts = 16000, start
                output.mux(sound.encode(chunk))
            output.mux(sound.encode())
    return path


def read_clip(path):
    """(frames, frame rate, seconds of audio or None) of a video file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        rate = float(stream.average_rate)
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return frames, rate, None
        sound = [frame for frame in container.decode(container.streams.audio[0])]
        return frames, rate, sum(frame.samples for frame in sound) / sound[0].sample_rate


def test_a_video_file_keeps_its_frames_rate_size_audio_and_lightness(tmp_path, photo, model):
    source = write_clip(tmp_path / "in.mkv", pan(photo, frames=6), fps=8, audio=True, codec="ffv1")
    assert main(["video", str(source), str(tmp_path / "out.mkv"), "--codec", "ffv1", "--no-progress"]) == 0
    frames, rate, audio = read_clip(tmp_path / "out.mkv")
    inputs, in_rate, in_audio = read_clip(source)
    assert len(frames) == 6 and rate == in_rate == 8 and frames[0].shape == (160, 224, 3)
    assert audio is not None and abs(float(audio) - float(in_audio)) < 0.1
    expected = list(colorize_frames(inputs, model))                 # lossless: exactly the library's frames
    assert all(np.array_equal(a, b) for a, b in zip(frames, expected))
    np.testing.assert_array_equal(frames[0], colorize(inputs[0], model))   # the first frame: the photo path's
    assert main(["video", str(source), str(tmp_path / "part.mp4"), "--start", "2f", "--end", "0.5",
                 "--no-progress"]) == 0
    part, _, part_audio = read_clip(tmp_path / "part.mp4")
    assert len(part) == 2 and part_audio is not None and float(part_audio) <= 0.3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("case, message", [
    ("not a video", "is not a video that can be read"),
    ("same file", "is the input"),
    ("unknown extension", "cannot tell the video format"),
    ("no frames there", "has no video frames from frame 50"),
    ("exists", "exists: give --overwrite"),
    ("point outside", "frame 1: hint 1"),
])
def test_video_mistakes_are_one_line_usage_errors_and_write_nothing(tmp_path, photo, capsys, case, message):
    source = write_clip(tmp_path / "in.mp4", pan(photo, frames=3))
    output = tmp_path / "out.mp4"
    arguments = {"not a video": [str(tmp_path / "notes.mp4"), str(output)],
                 "same file": [str(source), str(source), "--overwrite"],
                 "unknown extension": [str(source), str(tmp_path / "out.xyz")],
                 "no frames there": [str(source), str(output), "--start", "50f"],
                 "exists": [str(source), str(source.with_name("old.mp4"))],
                 "point outside": [str(source), str(output), "--hints", str(tmp_path / "far.json")]}[case]
    (tmp_path / "far.json").write_text(json.dumps([{"frame": 1, "y": 500, "x": 2, "color": "#c03020"}]))
    (tmp_path / "notes.mp4").write_text("not a video")
    source.with_name("old.mp4").write_bytes(b"keep me")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert main(["video", *arguments, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before        # nothing written or changed


def test_a_start_that_is_neither_seconds_nor_a_frame_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["video", str(tmp_path / "in.mp4"), str(tmp_path / "out.mp4"), "--start", "soon"])
    assert exit.value.code == 2 and "expected seconds (12.5) or a frame (300f), got 'soon'" in capsys.readouterr().err


def test_a_point_on_a_later_frame_guides_its_whole_shot_in_a_file(tmp_path, model):
    frames = moving_square()
    source = write_clip(tmp_path / "in.mkv", frames + [np.full_like(frames[0], 40)] * 2, codec="ffv1")
    (tmp_path / "points.json").write_text(json.dumps([{"frame": 5, "y": 45, "x": 55, "color": "#c03020"}]))
    assert main(["video", str(source), str(tmp_path / "out.mkv"), "--codec", "ffv1", "--hints",
                 str(tmp_path / "points.json"), "--no-progress"]) == 0
    result, _, _ = read_clip(tmp_path / "out.mkv")
    plain = list(colorize_frames(read_clip(source)[0], model))
    wanted = ab_of(np.array([[parse_color("#c03020")]], dtype=np.uint8))[0, 0]
    for t in (0, 7):                                 # before the point's frame and after it: the square is red
        square = (slice(35, 55), slice(25 + 4 * t, 45 + 4 * t))
        got, before = (ab_of(frames_[t])[square].reshape(-1, 2).mean(axis=0) for frames_ in (result, plain))
        assert np.hypot(*(got - wanted)) < 0.3 * np.hypot(*(before - wanted)), (t, got, before)
    np.testing.assert_array_equal(result[-1], plain[-1])             # the next shot: no point


def test_ctrl_c_exits_130_and_leaves_nothing_half_written(tmp_path, photo, monkeypatch):
    import colorize.video as video

    source = write_clip(tmp_path / "in.mp4", pan(photo, frames=5))
    calls = []
    real = video.FrameColorizer.__call__

    def interrupted(self, frame, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, frame, *args, **kwargs)

    monkeypatch.setattr(video.FrameColorizer, "__call__", interrupted)
    assert main(["video", str(source), str(tmp_path / "out.mp4"), "--no-progress"]) == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_without_the_video_extra_the_error_names_it(tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "av", None)              # as if PyAV were not installed
    assert main(["video", str(tmp_path / "in.mp4"), str(tmp_path / "out.mp4")]) == 2
    assert "install the video extra" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_the_frame_colorizer_is_the_photo_path_on_a_single_frame(model, photo):
    light = image_lightness(photo)
    ab, _ = network_ab(model, light)
    np.testing.assert_array_equal(FrameColorizer(model)(photo), combine(light, ab))


def test_an_odd_sized_video_keeps_its_size(tmp_path, photo):
    frames = [np.ascontiguousarray(frame[:121, :163]) for frame in pan(photo, frames=3)]
    source = write_clip(tmp_path / "odd.mkv", frames, codec="ffv1")
    assert main(["video", str(source), str(tmp_path / "out.mp4"), "--no-progress"]) == 0
    result, _, _ = read_clip(tmp_path / "out.mp4")
    assert len(result) == 3 and result[0].shape == (121, 163, 3)


def test_a_start_far_into_the_video_seeks_and_gives_the_same_frames(tmp_path, photo, monkeypatch):
    import colorize.video as video

    frames = [np.ascontiguousarray(np.roll(photo[:96, :128], 3 * t, axis=1)) for t in range(40)]
    source = tmp_path / "in.mp4"
    with av.open(str(source), "w") as output:          # a keyframe every 8 frames, so the seek lands before 30
        stream = output.add_stream("libx264", rate=10)
        stream.height, stream.width, stream.pix_fmt = 96, 128, "yuv420p"
        stream.codec_context.gop_size = 8
        for frame in frames:
            output.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        output.mux(stream.encode())
    arguments = [str(source), "--start", "30f", "--end", "36f", "--codec", "ffv1", "--no-progress", "--frame-by-frame"]
    assert main(["video", arguments[0], str(tmp_path / "counted.mkv"), *arguments[1:]]) == 0
    monkeypatch.setattr(video, "SEEK_AFTER", 10)
    assert main(["video", arguments[0], str(tmp_path / "sought.mkv"), *arguments[1:]]) == 0
    counted, sought = read_clip(tmp_path / "counted.mkv")[0], read_clip(tmp_path / "sought.mkv")[0]
    assert len(counted) == len(sought) == 6 and all(np.array_equal(a, b) for a, b in zip(counted, sought))


def test_memory_does_not_grow_with_the_number_of_frames(model, photo):
    """Frames stream through one at a time: the peak of six large frames is the peak of two."""
    import tracemalloc

    big = np.asarray(Image.fromarray(photo).convert("L").resize((1280, 720)))
    peaks = {}
    for count in (2, 6):
        frames = (np.roll(big, 4 * t, axis=1) for t in range(count))
        tracemalloc.start()
        try:
            produced = sum(1 for _ in colorize_frames(frames, model))
            peaks[count] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert produced == count
    frame_bytes = big.size * 3
    assert peaks[6] <= peaks[2] + frame_bytes, {n: f"{p / 2**20:.0f} MiB" for n, p in peaks.items()}


def test_mpiexec_shares_the_network_out_and_writes_the_same_file(tmp_path, photo):
    """Process r runs the network on frames r, r + N, ...; process 0 does the rest in order: the frames
    are the ones a single process writes, bit for bit, points and a cut included."""
    from tests.test_distributed import BIN, launch

    frames = pan(photo, frames=7) + [np.full((160, 224, 3), 40, dtype=np.uint8)] * 2 + pan(photo[::-1], frames=3)
    source = write_clip(tmp_path / "in.mkv", frames, audio=True, codec="ffv1")
    (tmp_path / "points.json").write_text(json.dumps([{"frame": 4, "y": 60, "x": 90, "color": "#c03020"}]))
    runs = {}
    for processes in (1, 3):
        out = tmp_path / f"out{processes}.mkv"
        result = launch(processes, BIN / "colorize", "video", source, out, "--codec", "ffv1", "--hints",
                        tmp_path / "points.json", "--no-progress")
        assert result.returncode == 0, result.stderr
        runs[processes] = (result.stdout, read_clip(out))
    assert runs[3][0].strip().endswith(f"{len(frames)} frames on 3 processes"), runs[3][0]
    (one, rate, sound), (three, rate3, sound3) = runs[1][1], runs[3][1]
    assert len(one) == len(three) == len(frames) and rate == rate3 and sound == sound3
    for t, (a, b) in enumerate(zip(one, three)):
        np.testing.assert_array_equal(a, b, err_msg=f"frame {t}")
    empty = launch(2, BIN / "colorize", "video", source, tmp_path / "none.mkv", "--start", "50f", "--no-progress")
    assert empty.returncode == 2 and empty.stderr.count("no video frames") == 1, empty.stderr
    assert not (tmp_path / "none.mkv").exists()


def test_a_failure_of_process_0_alone_ends_the_whole_job(tmp_path, photo):
    """The other processes wait to send their next frame; process 0 failing must not leave them waiting."""
    import subprocess
    import sys

    from tests.test_distributed import launch

    source = write_clip(tmp_path / "in.mkv", pan(photo, frames=8), codec="ffv1")
    script = tmp_path / "fail.py"
    script.write_text(
        "import sys\n"
        "from colorize import cli, video\n"
        "from nnscratch import distributed\n"
        "if distributed.world().rank == 0:\n"
        "    original = video._SharedColorizer.__call__\n"
        "    def failing(self, rgb, placed=()):\n"
        "        if self.count == 3:\n"
        "            raise video.VideoError('the disk is full')\n"
        "        return original(self, rgb, placed)\n"
        "    video._SharedColorizer.__call__ = failing\n"
        "sys.exit(cli.main(sys.argv[1:]))\n")
    try:
        result = launch(2, sys.executable, script, "video", source, tmp_path / "out.mkv", "--codec", "ffv1",
                        "--no-progress", timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("the job hung after process 0 failed")
    assert result.returncode != 0 and "the disk is full" in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fail.py", "in.mkv"]     # nothing half-written
