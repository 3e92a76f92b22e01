"""Colorizing video: frames in, frames out, steady from frame to frame.

Each frame is colorized as a photo is (its own lightness kept, the network's chroma at the working
size), and then held steady: the previous frame's chroma is carried to this one through the
frame's motion, estimated from the lightness as one shift of the whole picture (phase correlation,
which follows a pan or a shaking camera), and blended with the network's where the lightness says
the pixel shows the same surface; where it does not (something moved in, or lit differently) the
network's own colour is taken.  A cut, a frame whose lightness differs from the previous one's
after that shift by more than :data:`CUT` on average, starts afresh.

Colour points are given per frame (``{frame: [(y, x, colour), ...]}``) and move with the picture.
From a file (:func:`colorize_video`) a first pass finds the shots and the motion, so a point placed
on frame N guides its whole shot, the frames before N too; on a stream (:func:`colorize_frames`) it
guides frame N and the rest of its shot.

:func:`colorize_frames` works on any iterator of frames (an iterator out, nothing held but the
previous frame's working-size state); :func:`colorize_video` reads and writes files with PyAV
(the ``video`` extra), keeping the frame rate, the frame count, the size and the audio.
"""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np

from .hints import check_hints, hint_chroma
from .infer import WORKING_SIZE, combine, image_lightness, load_model, network_ab, working_lightness, working_size
from .spread import spread_points

CUT = 12.0             # mean |L difference| (Lab units) after the motion that makes a frame a new shot
SAME_SURFACE = 4.0     # |L difference| (Lab units) at which a pixel is no longer taken for the same surface
CARRY = 0.9            # the share of the carried chroma where a pixel is the same surface
SEEK_AFTER = 250       # a --start this many frames in seeks to the keyframe before it instead of decoding up to it
EXTENSION_CODECS = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".avi": "mpeg4", ".webm": "libvpx-vp9"}


class VideoError(ValueError):
    """A file that cannot be read or written as video: said in one line."""


class NoFrames(VideoError):
    """A video, or a range of it, without frames (every process of a split job finds it alike)."""


def estimate_shift(previous: np.ndarray, current: np.ndarray) -> tuple[int, int]:
    """The whole-pixel shift ``(dy, dx)`` that moves ``previous`` (h, w) onto ``current``: the peak of
    their phase correlation (Hann-windowed), within half the picture either way."""
    window = np.outer(np.hanning(previous.shape[0]), np.hanning(previous.shape[1]))
    first = np.fft.rfft2((previous - previous.mean()) * window)
    second = np.fft.rfft2((current - current.mean()) * window)
    cross = second * np.conj(first)
    surface = np.fft.irfft2(cross / np.maximum(np.abs(cross), 1e-12), s=previous.shape)
    dy, dx = np.unravel_index(np.argmax(surface), surface.shape)
    height, width = previous.shape
    return int(dy - height if dy > height // 2 else dy), int(dx - width if dx > width // 2 else dx)


def shift_image(array: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``array`` moved by ``(dy, dx)`` pixels, the uncovered border filled with the nearest edge."""
    height, width = array.shape[:2]
    rows = np.clip(np.arange(height) - dy, 0, height - 1)
    cols = np.clip(np.arange(width) - dx, 0, width - 1)
    return array[rows][:, cols]


def box_blur(channel: np.ndarray) -> np.ndarray:
    """The mean over each pixel's 3 x 3 neighbourhood (edges repeated): grain averaged out."""
    padded = np.pad(channel, 1, mode="edge")
    height, width = channel.shape
    return sum(padded[i:i + height, j:j + width] for i in range(3) for j in range(3)) / 9


def frame_motion(before: np.ndarray, small: np.ndarray, motion: bool = True):
    """How the picture moved from the working-size lightness ``before`` to ``small``: ``(dy, dx)``, the
    per-pixel lightness difference after that shift (3 x 3 means), and whether it is a cut."""
    dy, dx = estimate_shift(before, small) if motion else (0, 0)
    difference = np.abs(box_blur(small) - box_blur(shift_image(before, dy, dx)))
    return (dy, dx), difference, bool(difference.mean() > CUT)


class FrameColorizer:
    """Colorizes the frames of one video in order (it keeps the previous frame's working-size state).

    ``steady=False`` colorizes each frame on its own (the comparison the figures are measured against);
    ``motion=False`` carries the chroma without following the picture's motion (also for comparison).
    """

    def __init__(self, model=None, size: int | None = WORKING_SIZE, vividness: float | None = None,
                 steady: bool = True, carry: float = CARRY, motion: bool = True):
        self.model = load_model() if model is None else model
        self.size, self.vividness, self.steady, self.carry, self.motion = size, vividness, steady, carry, motion
        self.previous = None          # (working lightness, chroma) of the last frame
        self.points = []              # [((row, col) at the working size, (a, b))] of the shot, in view or not
        self.cuts = 0

    def __call__(self, frame: np.ndarray, points=(), placed=(), network=None) -> np.ndarray:
        """The colorized frame (uint8 RGB) of ``frame`` (uint8 RGB or gray).  ``points`` are new colour
        points on it, ``(y, x, colour)`` in its pixels; ``placed`` points already in working pixels,
        ``((row, col), (a, b))``, which may lie outside the picture until the motion brings them in.
        ``network``: the network's chroma for this frame (:meth:`network`), when another process ran it."""
        light = image_lightness(frame)
        if network is None:
            ab, small = network_ab(self.model, light, self.size, vividness=self.vividness)
        else:
            ab, small = network, working_lightness(light, self.size)
        if self.previous is not None and self.previous[0].shape == small.shape and (self.steady or self.points):
            ab = self._follow(small, ab)
        self._add_points(check_hints(points, *light.shape), light.shape, small.shape)
        self.points.extend(placed)
        rows, cols = small.shape
        shown = [(at, colour) for at, colour in self.points if 0 <= at[0] <= rows - 1 and 0 <= at[1] <= cols - 1]
        if shown:
            ab = spread_points(ab, small, [tuple(int(round(v)) for v in at) for at, _ in shown],
                               np.array([colour for _, colour in shown]))
        self.previous = (small, ab)
        return combine(light, ab)

    def network(self, frame: np.ndarray) -> np.ndarray:
        """The network's chroma (h, w, 2) float32 for ``frame``: the costly part of a frame, which needs
        no other frame (so processes can share it out)."""
        return network_ab(self.model, image_lightness(frame), self.size, vividness=self.vividness)[0]

    def _follow(self, small: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """The points moved with the picture, and (when steady) the network's chroma blended with the
        previous frame's, carried through the motion."""
        light_before, ab_before = self.previous
        (dy, dx), difference, cut = frame_motion(light_before, small, self.motion)
        if cut:                                      # a new shot: nothing carried, its points gone
            self.cuts += 1
            self.points = []
            return ab
        self.points = [((row + dy, col + dx), colour) for (row, col), colour in self.points]
        if not self.steady:
            return ab
        weight = (self.carry * np.exp(-(difference / SAME_SURFACE) ** 2))[..., None]
        return (weight * shift_image(ab_before, dy, dx) + (1 - weight) * ab).astype(np.float32)

    def _add_points(self, points, image_shape, working_shape) -> None:
        if not points:
            return
        scale_y, scale_x = working_shape[0] / image_shape[0], working_shape[1] / image_shape[1]
        for (y, x, _), colour in zip(points, hint_chroma([colour for _, _, colour in points])):
            at = (min(y * scale_y, working_shape[0] - 1), min(x * scale_x, working_shape[1] - 1))
            self.points.append((at, colour))


def place_on_shots(hints, motions: dict, image_shape, working_shape) -> dict[int, list]:
    """Each point of ``hints`` (``{frame: [(y, x, colour), ...]}``) moved back to the first frame of its
    shot: ``{first frame: [((row, col) in working pixels, (a, b)), ...]}``, so that it guides its whole
    shot.  ``motions`` maps each frame to ``((dy, dx), cut)`` from the frame before (the first: a cut)."""
    scale_y, scale_x = working_shape[0] / image_shape[0], working_shape[1] / image_shape[1]
    placed: dict[int, list] = {}
    for frame, points in hints.items():
        if frame not in motions:
            continue
        first, row_shift, col_shift = frame, 0, 0
        while not motions[first][1]:
            (dy, dx), _ = motions[first]
            row_shift, col_shift, first = row_shift + dy, col_shift + dx, first - 1
        checked = check_hints(points, *image_shape)
        for (y, x, _), colour in zip(checked, hint_chroma([c for _, _, c in checked])):
            placed.setdefault(first, []).append(((y * scale_y - row_shift, x * scale_x - col_shift), colour))
    return placed


def colorize_frames(frames, model=None, size: int | None = WORKING_SIZE, vividness: float | None = None,
                    hints=None, steady: bool = True):
    """Colorize an iterator of frames (uint8 RGB or gray arrays, one size): an iterator of uint8 RGB
    frames, one per frame, computed as they are asked for.  ``hints`` maps a frame's index to its
    colour points ``[(y, x, colour), ...]``; each guides its frame and the rest of its shot."""
    colorizer = FrameColorizer(model, size, vividness, steady)
    hints = hints or {}
    for index, frame in enumerate(frames):
        yield colorizer(frame, hints.get(index, ()))


def read_video_hints(path) -> dict[int, list]:
    """``{frame: [(y, x, colour), ...]}`` from a JSON list of ``{"frame": N, "y": .., "x": .., "color": ..}``."""
    import json

    try:
        entries = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable JSON file of points ({error})") from None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list of points, got {type(entries).__name__}")
    points: dict[int, list] = {}
    for number, entry in enumerate(entries, 1):
        if not (isinstance(entry, dict) and isinstance(entry.get("frame"), int) and entry["frame"] >= 0
                and {"y", "x", "color"} <= set(entry)):
            raise ValueError(f"{path}: point {number} is not {{\"frame\": N, \"y\": Y, \"x\": X, \"color\": \"#rrggbb\"}}")
        points.setdefault(entry["frame"], []).append((entry["y"], entry["x"], entry["color"]))
    return points


# -- files --------------------------------------------------------------------------------------------

def _av():
    try:
        import av
    except ImportError:
        raise VideoError("colorize video needs PyAV: install the video extra (pip install -e '.[video]')") from None
    return av


def open_video(path):
    """``(container, video stream)`` of a file FFmpeg can read with at least one video stream (``path``:
    a file name, or a file object such as an upload held in memory)."""
    av = _av()
    in_memory = hasattr(path, "read")
    name = getattr(path, "name", None) or "the upload" if in_memory else path
    try:
        container = av.open(path if in_memory else str(path))
    except (av.error.FFmpegError, OSError) as error:
        raise VideoError(f"{name} is not a video that can be read ({getattr(error, 'strerror', None) or error})") from None
    if not container.streams.video:
        container.close()
        raise VideoError(f"{name} has no video stream")
    return container, container.streams.video[0]


def preview_frames(data: bytes, count: int = 4):
    """``count`` frames spread evenly over a video held in memory, its first and last among them:
    ``([(frame number, seconds, uint8 RGB)], frames in the video, frame rate)``.  The frames are
    counted from the packets first (nothing decoded), then only the chosen ones kept."""
    container, stream = open_video(io.BytesIO(data))
    with container:
        rate = float(stream.average_rate or 25)
        total = sum(1 for packet in container.demux(stream) if packet.size)
    if total == 0:
        raise NoFrames("the upload has no video frames")
    wanted = sorted({round(i * (total - 1) / max(count - 1, 1)) for i in range(min(count, total))})
    chosen, last = [], None
    container, stream = open_video(io.BytesIO(data))
    with container:
        for index, rgb in _frames(container, stream, 0, None):
            last = (index, rgb)
            if index in wanted:
                chosen.append((index, index / rate, rgb))
    if last is not None and len(chosen) < len(wanted) and (not chosen or chosen[-1][0] != last[0]):
        chosen.append((last[0], last[0] / rate, last[1]))      # fewer frames decoded than packets counted
    if not chosen:
        raise NoFrames("the upload has no video frames that can be decoded")
    return chosen, total, rate


def output_codec(path, codec: str | None = None) -> str:
    """The encoder for ``path``: ``codec`` if given, else by the extension (.mp4: H.264)."""
    av = _av()
    suffix = Path(path).suffix.lower()
    name = codec or EXTENSION_CODECS.get(suffix)
    if name is None:
        raise VideoError(f"cannot tell the video format of {path}: use one of {', '.join(EXTENSION_CODECS)} "
                         "(or --codec)")
    try:
        av.codec.Codec(name, "w")
    except (av.error.FFmpegError, ValueError):
        raise VideoError(f"unknown video encoder {name!r}") from None
    return name


def colorize_video(source, target, model=None, size: int | None = WORKING_SIZE, vividness: float | None = None,
                   hints=None, steady: bool = True, start: int = 0, end: int | None = None,
                   codec: str | None = None, progress=None, comm=None) -> int:
    """Colorize the video file ``source`` into ``target`` (written atomically: a temporary file beside
    it, renamed when complete; removed on any failure or Ctrl-C).  Frames ``start`` to ``end``
    (exclusive; None: to the last); the frame rate, the size and the audio track are kept.
    ``progress`` is called with each frame written.  Returns the number of frames written.

    With ``comm`` (:func:`nnscratch.distributed.world` under ``mpiexec -n N``) the network's part of
    each frame, the costly one, is shared out: process r runs it on the frames r, r + N, ... and sends
    the chroma to process 0, which does the rest (steady colour, points, the full-size picture,
    encoding) in order, so the file is the one a single process writes, bit for bit."""
    name = output_codec(target, codec)
    if Path(source).resolve() == Path(target).resolve():
        raise VideoError(f"the output {target} is the input: give another file name")
    if comm is not None and comm.rank != 0:
        return _network_share(source, comm, FrameColorizer(model, size, vividness, steady), start, end)
    placed = _place_points(source, hints, size, start, end) if hints else {}
    container, stream = open_video(source)
    target = Path(target)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent)
    os.close(handle)
    try:
        with container:
            colorizer = _SharedColorizer(FrameColorizer(model, size, vividness, steady), comm)
            written = _transcode(container, stream, temporary, name, colorizer, placed, start, end, progress)
        if written == 0:
            raise NoFrames(f"{source} has no video frames" + (f" from frame {start}" if start else ""))
        os.replace(temporary, target)
        return written
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


class _SharedColorizer:
    """Process 0's side of a shared-out job: the n-th frame's network chroma comes from process
    n mod N (its own when that is 0); with one process, the plain :class:`FrameColorizer`."""

    def __init__(self, colorizer: FrameColorizer, comm):
        self.colorizer, self.comm, self.count = colorizer, comm, 0

    def __call__(self, rgb: np.ndarray, placed=()) -> np.ndarray:
        owner = 0 if self.comm is None else self.count % self.comm.size
        self.count += 1
        network = None
        if owner:
            height, width = working_size(*rgb.shape[:2], self.colorizer.size)
            network = self.comm.receive((height, width, 2), np.float32, owner)
        return self.colorizer(rgb, placed=placed, network=network)


def _network_share(source, comm, colorizer: FrameColorizer, start: int, end: int | None) -> int:
    """A process other than 0 of a shared-out job: every frame decoded (to keep count), the network
    run on its own share and the chroma sent to process 0 (one frame ahead at most).  Returns how
    many frames the range holds."""
    container, stream = open_video(source)
    count = 0
    with container:
        for _, rgb in _frames(container, stream, start, end):
            if count % comm.size == comm.rank:
                comm.send(colorizer.network(rgb), 0)
            count += 1
    if count == 0:
        raise NoFrames(f"{source} has no video frames" + (f" from frame {start}" if start else ""))
    return count


def _pixel_format(codec: str, width: int, height: int) -> str:
    """ffv1: lossless RGB; otherwise 4:2:0 (what players expect), or 4:4:4 for an odd width or height,
    which 4:2:0 cannot hold."""
    if codec == "ffv1":
        return "bgr0"
    return "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"


class _Numbering:
    """Each decoded frame's number.  Counted from the first frame; but a ``start`` far into the video
    (:data:`SEEK_AFTER` frames or more) first seeks to the keyframe before it, and the frames are then
    numbered by their timestamps at the stream's frame rate (exact for a constant rate)."""

    def __init__(self, container, stream, start: int):
        self.count, self.by_time = -1, False
        rate, base = stream.average_rate, stream.time_base
        if start >= SEEK_AFTER and rate and base:
            self.offset, self.scale = stream.start_time or 0, base * rate
            container.seek(self.offset + int(start / rate / base), stream=stream, backward=True, any_frame=False)
            self.by_time = True

    def __call__(self, frame) -> int:
        if self.by_time and frame.pts is not None:
            return round((frame.pts - self.offset) * self.scale)
        self.count += 1
        return self.count


def _frames(container, stream, start: int, end: int | None):
    """``(index, uint8 RGB)`` of the frames ``start`` to ``end`` of a video stream, decoded one at a time."""
    av = _av()
    number = _Numbering(container, stream, start)
    try:
        for frame in container.decode(stream):
            index = number(frame)
            if end is not None and index >= end:
                break
            if index >= start:
                yield index, frame.to_ndarray(format="rgb24")
    except av.error.InvalidDataError as error:
        raise VideoError(f"the video cannot be decoded ({error})") from None


def _place_points(source, hints, size, start, end) -> dict[int, list]:
    """A first pass over the frames (lightness at the working size only) that finds the shots and the
    motion, so that each point guides its whole shot (:func:`place_on_shots`)."""
    container, stream = open_video(source)
    motions, before, shapes = {}, None, None
    with container:
        for index, rgb in _frames(container, stream, start, end):
            light = image_lightness(rgb)
            small = working_lightness(light, size)
            if before is None:
                motions[index], shapes = ((0, 0), True), (light.shape, small.shape)
            else:
                shift, _, cut = frame_motion(before, small)
                motions[index] = (shift, cut)
            before = small
    return place_on_shots(hints, motions, *shapes) if shapes else {}


def _transcode(container, stream, temporary, codec, colorizer, placed, start, end, progress):
    av = _av()
    audio = container.streams.audio[0] if container.streams.audio else None
    rate = stream.average_rate or 25
    written, number = 0, _Numbering(container, stream, start)
    with av.open(temporary, "w") as output:
        video_out = output.add_stream(codec, rate=rate)
        video_out.width, video_out.height = stream.codec_context.width, stream.codec_context.height
        video_out.pix_fmt = _pixel_format(codec, video_out.width, video_out.height)
        audio_track = _AudioTrack(output, audio, start / rate, None if end is None else end / rate)
        try:
            for packet in container.demux(*(s for s in (stream, audio) if s is not None)):
                if packet.stream is audio:
                    audio_track.copy(packet)
                    continue
                for frame in packet.decode():
                    index = number(frame)
                    if index < start or (end is not None and index >= end):
                        continue
                    rgb = colorizer(frame.to_ndarray(format="rgb24"), placed=placed.get(index, ()))
                    output.mux(video_out.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
                    written += 1
                    if progress:
                        progress(written)
            output.mux(video_out.encode())
        except av.error.InvalidDataError as error:
            raise VideoError(f"the video cannot be decoded ({error})") from None
        except av.error.FFmpegError as error:
            raise VideoError(f"the video cannot be written with {codec} ({error})") from None
    return written


class _AudioTrack:
    """The input's audio copied packet by packet (not re-encoded), cut to the frames kept."""

    def __init__(self, output, audio, start: float, end: float | None):
        self.stream = output.add_stream_from_template(audio) if audio is not None else None
        self.output, self.start, self.end = output, start, end
        self.offset = None if audio is None else int(round(start / audio.time_base))

    def copy(self, packet) -> None:
        if self.stream is None or packet.dts is None or packet.pts is None:
            return
        seconds = float(packet.pts * packet.time_base)
        if seconds < self.start or (self.end is not None and seconds >= self.end):
            return
        packet.pts -= self.offset
        packet.dts -= self.offset
        packet.stream = self.stream
        self.output.mux(packet)
