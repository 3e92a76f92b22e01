"""``colorize serve``: a local web page to colorize, guide with colour points, and enhance a photo.

Built on Flask (the ``web`` extra).  The page (``static/``: plain HTML, CSS
and JavaScript, nothing fetched from elsewhere) talks to a small HTTP API:

    GET  /                 the page
    GET  /api/operations   the enhancement operations, their parameters, ranges and defaults (JSON)
    POST /api/colorize     multipart: image (file), optional hints (JSON text), enhance (text in the
                           ``enhance`` command's syntax), size (working resolution), vividness
                           (0-1) -> PNG of the upload's pixel size
    POST /api/suggest      multipart: image, y, x (a point in its pixels), size, vividness -> JSON
                           {"colors": ["#rrggbb", ...]}: a palette for a colour point there, from the
                           network's own colours over the point's region
    POST /api/video        multipart: video (a short clip), frames (1-8, default 4), size, vividness
                           -> JSON {"frames": [{"index", "time", "image": JPEG data URL}], "total",
                           "rate"}: a preview of frames spread over the clip, each colorized as a
                           photo (the ``video`` extra; ``colorize video`` does the whole clip, steady)

The network's automatic colours of the last few photos are kept in memory
(:class:`colorize.infer.AutomaticColours`), so that a new colour point on the
same preview costs only the spread of the points, not another network pass.

Errors are JSON ``{"error": "<one sentence>"}``: 400 for a bad image, hints,
operation or value (and decompression bombs), 413 for an upload over the
limit (refused from its declared length, before it is read), 404 for any
other path.  Nothing is written to disk: uploads are read from memory and
results streamed back.  The page sends a downscaled copy while the user
works (fast) and the original once, for the full-resolution download.
"""
from __future__ import annotations

import base64
import io
import json
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from enhance.operations import OperationError, apply, check_operations, describe_operations, parse_operation
from enhance.io import ImageError, read_image

from .hints import check_hints, hints_from_json, suggested_colours
from .model import check_vividness
from .infer import WORKING_SIZE, AutomaticColours, colorize, image_lightness

STATIC = Path(__file__).parent / "static"
MAX_SIZE = 1024          # the largest working resolution a request may ask for
MAX_PREVIEW_FRAMES = 8   # the most frames a video preview shows


class RequestError(ValueError):
    """A bad request: answered with status 400 and its message."""


def _read_upload(upload) -> np.ndarray:
    """The uploaded file as an image array, decoded in memory (Pillow's size guard applies)."""
    if upload is None or not upload.filename:
        raise RequestError("no image was uploaded (form field 'image')")
    try:
        return read_image(upload)
    except ImageError as error:
        message = str(error)
        raise RequestError("the uploaded image is empty" if "(0 bytes)" in message else message) from None


def _parse_request(form, image: np.ndarray):
    try:
        hints = hints_from_json(json.loads(form.get("hints") or "[]"))
        hints = check_hints(hints, image.shape[0], image.shape[1])
    except json.JSONDecodeError as error:
        raise RequestError(f"hints are not valid JSON: {error}") from None
    except ValueError as error:
        raise RequestError(str(error)) from None
    try:
        operations = [parse_operation(text) for text in (form.get("enhance") or "").split()]
        check_operations(operations)
    except OperationError as error:
        raise RequestError(f"enhance: {error}") from None
    return (hints, operations) + _parse_network_fields(form)


def _parse_point(form, image: np.ndarray) -> tuple[float, float]:
    """The ``y`` and ``x`` fields: a point inside the image."""
    try:
        (y, x, _), = check_hints([(float(form.get("y", "")), float(form.get("x", "")), "#000000")],
                                 image.shape[0], image.shape[1])
    except ValueError:
        raise RequestError(f"y and x must be a point inside the {image.shape[1]}x{image.shape[0]} image, "
                           f"got y={form.get('y')!r}, x={form.get('x')!r}") from None
    return y, x


def _video_preview(upload, form, model) -> dict:
    """The answer of ``/api/video``: frames spread over the uploaded clip, each colorized as a photo."""
    from . import video

    if upload is None or not upload.filename:
        raise RequestError("no video was uploaded (form field 'video')")
    count = _parse_frame_count(form)
    size, vividness = _parse_network_fields(form)
    try:
        frames, total, rate = video.preview_frames(upload.read(), count)
    except video.VideoError as problem:
        raise RequestError(str(problem)) from None
    shown = []
    for index, seconds, rgb in frames:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = colorize(rgb, model, size=size, vividness=vividness)
        buffer = io.BytesIO()
        Image.fromarray(result).save(buffer, format="JPEG", quality=90)
        shown.append({"index": index, "time": round(seconds, 3),
                      "image": "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()})
    return {"frames": shown, "total": total, "rate": rate}


def _parse_frame_count(form) -> int:
    """The ``frames`` field of a video preview: 1 to :data:`MAX_PREVIEW_FRAMES` (default 4)."""
    text = form.get("frames") or "4"
    if not text.isdigit() or not 1 <= int(text) <= MAX_PREVIEW_FRAMES:
        raise RequestError(f"frames must be a whole number from 1 to {MAX_PREVIEW_FRAMES}, got {text!r}")
    return int(text)


def _parse_network_fields(form):
    """The ``size`` and ``vividness`` fields."""
    size_text = form.get("size") or str(WORKING_SIZE)
    try:
        size = int(size_text)
    except ValueError:
        raise RequestError(f"size must be an integer, got {size_text!r}") from None
    if not 8 <= size <= MAX_SIZE:
        raise RequestError(f"size must be between 8 and {MAX_SIZE}, got {size}")
    vividness = None
    if form.get("vividness"):
        try:
            vividness = check_vividness(float(form["vividness"]))
        except ValueError as error:
            raise RequestError(str(error) if "vividness" in str(error) else
                               f"vividness must be a number in [0, 1], got {form['vividness']!r}") from None
    return size, vividness


def _answer_errors(app, max_upload_mb: float) -> None:
    """Every error answered as JSON ``{"error": "<one sentence>"}`` with its status."""
    from flask import jsonify
    from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

    def error(message: str, status: int):
        return jsonify({"error": message}), status

    @app.errorhandler(RequestError)
    def bad_request(problem):
        return error(str(problem), 400)

    @app.errorhandler(ImageError)
    def bad_image(problem):
        return error(str(problem), 400)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_):
        return error(f"the upload is larger than the limit of {max_upload_mb:g} MB", 413)

    @app.errorhandler(HTTPException)
    def http_error(problem):
        return error(problem.description or problem.name, problem.code or 500)

    @app.errorhandler(MemoryError)
    def out_of_memory(_):
        return error("not enough memory for this image; try a smaller one", 413)


def create_app(model=None, max_upload_mb: float = 25.0):
    """The Flask application; ``model`` defaults to the shipped colorizer (loaded once)."""
    from flask import Flask, jsonify, request, send_file, send_from_directory

    from .infer import load_model

    model = load_model() if model is None else model
    automatic = AutomaticColours()
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = int(max_upload_mb * 1024 * 1024)

    @app.get("/")
    def page():
        return send_from_directory(STATIC, "index.html")

    @app.get("/static/<path:name>")
    def static_file(name):
        return send_from_directory(STATIC, name)     # refuses paths that leave the folder (404)

    @app.get("/api/operations")
    def operations():
        return jsonify({"operations": describe_operations(), "vividness": model.config.get("vividness", 0.0)})

    @app.post("/api/colorize")
    def colorize_upload():
        image = _read_upload(request.files.get("image"))
        hints, operations, size, vividness = _parse_request(request.form, image)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = colorize(image, model, size=size, hints=hints, vividness=vividness, automatic=automatic)
            result = apply(result, operations)
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(result)).save(buffer, format="PNG", compress_level=1)
        buffer.seek(0)
        return send_file(buffer, mimetype="image/png", download_name="colorized.png")

    @app.post("/api/suggest")
    def suggest():
        image = _read_upload(request.files.get("image"))
        y, x = _parse_point(request.form, image)
        size, vividness = _parse_network_fields(request.form)
        light = image_lightness(image)
        ab, small = automatic(model, light, size, vividness)
        return jsonify({"colors": suggested_colours(ab, small, y, x, light.shape)})

    @app.post("/api/video")
    def video_preview():
        return jsonify(_video_preview(request.files.get("video"), request.form, model))

    _answer_errors(app, max_upload_mb)
    return app


def serve(host: str = "127.0.0.1", port: int = 8000, checkpoint=None, max_upload_mb: float = 25.0,
          open_browser: bool = False, device: str = "cpu") -> None:
    """Run the page on a local server until Ctrl-C; the network runs on ``device`` ('cpu' or 'cuda')."""
    import sys

    from werkzeug.serving import make_server

    from .infer import load_model

    model = load_model(checkpoint)
    app = create_app(model.to(device) if device != "cpu" else model, max_upload_mb)
    server = make_server(host, port, app, threaded=False)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{server.server_port}/"
    if host in ("0.0.0.0", "::"):
        print(f"warning: listening on every network interface ({host}): anyone who can reach this machine "
              "can use the page", file=sys.stderr)
    print(f"colorize serve: open {url} (Ctrl-C to stop)", flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    server.serve_forever()
