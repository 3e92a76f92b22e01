"""colorize serve: every endpoint and error through Flask's test client, and the page in a real browser."""
import base64
import io
import json
import shutil
import threading

import numpy as np
import pytest
from PIL import Image

from colorize import colorize
from colorize.model import Colorizer
from tests.conftest import synthetic_photo

flask = pytest.importorskip("flask", reason="the web extra (Flask) serves the page")
from colorize.server import create_app  # noqa: E402


@pytest.fixture(scope="module")
def model():
    return Colorizer(hidden_layers=18, width=2, hints=True, seed=1).eval()


@pytest.fixture(scope="module")
def client(model):
    return create_app(model, max_upload_mb=1).test_client()


def png_bytes(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def post(client, data=None, image=None, name="photo.png", path="/api/colorize", field="image"):
    form = dict(data or {})
    if image is not None:
        form[field] = (io.BytesIO(image), name)
    return client.post(path, data=form, content_type="multipart/form-data")


def test_the_page_and_its_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and b"<title>colorize</title>" in page.data
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200


def test_operations_describe_parameters_ranges_and_defaults(client):
    answer = client.get("/api/operations").get_json()
    operations = {op["name"]: op for op in answer["operations"]}
    assert {"equalize", "clahe", "contrast", "hdr", "invert"} <= set(operations)
    factor = operations["contrast"]["parameters"][0]
    assert factor == {"name": "factor", "default": 1.0, "kind": "number", "min": 0.0, "max": 2.0, "step": 0.05}
    assert {"name": "inverse", "default": False, "kind": "flag"} in operations["log"]["parameters"]


def test_colorize_answers_a_png_of_the_upload_size_equal_to_the_library(client, model):
    photo = synthetic_photo(37, 53)
    hints = [{"y": 10, "x": 12.5, "color": "#c03020"}]
    answer = post(client, {"hints": json.dumps(hints), "enhance": "contrast:1.2 gamma:0.9", "size": "64"},
                  png_bytes(photo))
    assert answer.status_code == 200 and answer.mimetype == "image/png"
    result = np.asarray(Image.open(io.BytesIO(answer.data)))
    from enhance import contrast, gamma

    expected = gamma(contrast(colorize(photo, model, size=64, hints=[(10, 12.5, "#c03020")]), 1.2), 0.9)
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("form, image, message", [
    ({}, None, "no image was uploaded"),
    ({}, b"not an image at all", "not an image file"),
    ({}, b"", "the uploaded image is empty"),
    ({"hints": "[{"}, "photo", "hints are not valid JSON"),
    ({"hints": '[{"y": 500, "x": 1, "color": "#ffffff"}]'}, "photo", "outside the image"),
    ({"hints": '[{"y": 1, "x": 1, "color": "white"}]'}, "photo", "'#rrggbb'"),
    ({"enhance": "sparkle"}, "photo", "unknown operation 'sparkle'"),
    ({"enhance": "gamma:-1"}, "photo", "gamma must be a finite number"),
    ({"size": "big"}, "photo", "size must be an integer"),
    ({"size": "100000"}, "photo", "size must be between"),
])
def test_bad_requests_are_400_with_one_sentence_and_the_server_keeps_serving(client, form, image, message):
    data = png_bytes(synthetic_photo(20, 30)) if image == "photo" else image
    answer = post(client, form, data)
    assert answer.status_code == 400, answer.data
    assert message in answer.get_json()["error"]
    assert post(client, {}, png_bytes(synthetic_photo(20, 30))).status_code == 200


def test_decompression_bombs_uploads_over_the_limit_and_unknown_paths(client, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    bomb = post(client, {}, png_bytes(synthetic_photo(20, 30)))
    assert bomb.status_code == 400 and "too large to open safely" in bomb.get_json()["error"]
    monkeypatch.undo()
    huge = post(client, {}, b"\0" * (2 * 1024 * 1024))
    assert huge.status_code == 413 and "larger than the limit of 1 MB" in huge.get_json()["error"]
    for path in ("/nowhere", "/static/../server.py", "/static/%2e%2e/server.py", "/static/../../setup.cfg"):
        answer = client.get(path)
        assert answer.status_code == 404 and "error" in answer.get_json(), path


def test_a_model_without_hint_input_follows_points_too():
    app = create_app(Colorizer(hidden_layers=18, width=2, seed=1).eval()).test_client()
    photo = png_bytes(synthetic_photo(20, 30))
    plain, guided = (post(app, {"hints": hints}, photo) for hints in ("[]", '[{"y": 1, "x": 1, "color": "#ff0000"}]'))
    assert plain.status_code == guided.status_code == 200 and plain.data != guided.data


def suggest(client, data=None, image=None):
    form = dict(data or {})
    if image is not None:
        form["image"] = (io.BytesIO(image), "photo.png")
    return client.post("/api/suggest", data=form, content_type="multipart/form-data")


def test_suggest_answers_a_palette_of_the_networks_colours_at_the_points_lightness(client, model):
    from colorize.hints import suggested_colours
    from colorize.infer import image_lightness, network_ab

    photo = synthetic_photo(37, 53)
    answer = suggest(client, {"y": "10", "x": "12.5"}, png_bytes(photo))
    assert answer.status_code == 200
    light = image_lightness(photo)
    assert answer.get_json() == {"colors": suggested_colours(*network_ab(model, light), 10, 12.5, light.shape)}
    for form, message in (({"y": "40", "x": "1"}, "inside the 53x37 image"), ({"x": "1"}, "y and x must be"),
                          ({"y": "1", "x": "1", "size": "2"}, "size must be between")):
        answer = suggest(client, form, png_bytes(photo))
        assert answer.status_code == 400 and message in answer.get_json()["error"], answer.data
    assert suggest(client, {"y": "1", "x": "1"}).status_code == 400


def test_a_new_point_on_the_same_preview_does_not_run_the_network_again(model, monkeypatch):
    import colorize.infer as infer

    calls = []
    real = infer.network_ab
    monkeypatch.setattr(infer, "network_ab", lambda *a, **k: calls.append(1) or real(*a, **k))
    app = create_app(model).test_client()
    photo = png_bytes(synthetic_photo(37, 53))
    for hints in ("[]", '[{"y": 5, "x": 5, "color": "#c03020"}]', '[{"y": 5, "x": 5, "color": "#2050c0"}]'):
        assert post(app, {"hints": hints}, photo).status_code == 200
    assert suggest(app, {"y": "5", "x": "5"}, photo).status_code == 200
    assert len(calls) == 1
    assert post(app, {"vividness": "0.5"}, photo).status_code == 200 and len(calls) == 2


def browser_available():
    return shutil.which("chromedriver") and (shutil.which("chromium") or shutil.which("chromium-browser"))


def chrome(tmp_path):
    """Headless Chromium at 1400 x 900, downloading into ``tmp_path / "downloads"`` without asking."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium drives the browser")
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(tmp_path / "downloads"),
                                              "download.prompt_for_download": False})
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=shutil.which("chromedriver")))


@pytest.fixture
def live_server(model):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, create_app(model), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def clip_bytes(frames, fps=10):
    """A lossless clip (FFV1 in Matroska) of uint8 RGB frames, as a browser would upload it."""
    av = pytest.importorskip("av", reason="the video extra (PyAV) reads video")
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="matroska") as output:
        stream = output.add_stream("ffv1", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "bgr0"
        for frame in frames:
            output.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        output.mux(stream.encode())
    return buffer.getvalue()


def post_video(client, data=None, video=None):
    return post(client, data, video, "clip.mkv", path="/api/video", field="video")


def test_a_video_preview_shows_frames_spread_over_the_clip_each_colorized_as_a_photo(client, model):
    frames = [synthetic_photo(48, 64, seed=t) for t in range(10)]
    answer = post_video(client, {"frames": "4"}, clip_bytes(frames))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["total"] == 10 and body["rate"] == 10
    assert [f["index"] for f in body["frames"]] == [0, 3, 6, 9]              # the first and the last among them
    assert [f["time"] for f in body["frames"]] == [0.0, 0.3, 0.6, 0.9]
    for shown in body["frames"]:
        assert shown["image"].startswith("data:image/jpeg;base64,")
        image = np.asarray(Image.open(io.BytesIO(base64.b64decode(shown["image"].split(",", 1)[1]))))
        expected = colorize(frames[shown["index"]], model).astype(int)
        assert image.shape == (48, 64, 3) and np.abs(image - expected).mean() < 4     # JPEG quality 90
    one = post_video(client, {"frames": "1"}, clip_bytes(frames[:3])).get_json()
    assert [f["index"] for f in one["frames"]] == [0]


@pytest.mark.parametrize("form, video, message", [
    ({}, None, "no video was uploaded"),
    ({}, b"not a video at all", "is not a video that can be read"),
    ({"frames": "0"}, "clip", "frames must be a whole number from 1 to 8"),
    ({"frames": "many"}, "clip", "frames must be a whole number"),
    ({"size": "big"}, "clip", "size must be an integer"),
])
def test_bad_video_previews_are_400_with_one_sentence(client, form, video, message):
    if video == "clip":
        video = clip_bytes([synthetic_photo(16, 16, seed=1)] * 2)
    answer = post_video(client, form, video)
    assert answer.status_code == 400 and message in answer.get_json()["error"], answer.get_json()



@pytest.mark.skipif(not browser_available(), reason="no chromium and chromium-driver (apt-get install chromium "
                                                    "chromium-driver); the HTTP tests above still run")
def test_the_page_in_a_real_browser(live_server, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium drives the browser")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser = chrome(tmp_path)
    wait = WebDriverWait(browser, 60)
    version = lambda: int(browser.find_element(By.ID, "result").get_attribute("data-version") or 0)  # noqa: E731
    try:
        browser.get(live_server)
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#operations .operation"))
        photo = synthetic_photo(120, 160)
        Image.fromarray(photo).convert("L").save(tmp_path / "old.png")
        browser.find_element(By.ID, "file").send_keys(str(tmp_path / "old.png"))
        wait.until(lambda b: version() >= 1)
        browser.save_screenshot(str(tmp_path / "1-colorized.png"))
        first = browser.find_element(By.ID, "result").get_attribute("src")

        result = browser.find_element(By.ID, "result")          # click: a colour point at the model's colour
        webdriver.ActionChains(browser).move_to_element_with_offset(result, 10, 5).click().perform()
        wait.until(lambda b: version() >= 2 and len(b.find_elements(By.CSS_SELECTOR, "#points li")) == 1)
        before = browser.execute_script("return document.getElementById('result').src")

        colour = browser.find_element(By.CSS_SELECTOR, "#points .point-colour")   # change its colour
        browser.execute_script("arguments[0].value = '#2050c0'; arguments[0].dispatchEvent(new Event('change'))", colour)
        wait.until(lambda b: version() >= 3)
        after = browser.execute_script("return document.getElementById('result').src")
        assert before != after != first
        marker = browser.find_element(By.CSS_SELECTOR, ".marker")
        assert "rgb(32, 80, 192)" in marker.get_attribute("style")

        toggle = browser.find_element(By.CSS_SELECTOR, "input[type=checkbox][data-operation=contrast]")
        toggle.click()                                            # enable contrast, then move its slider
        wait.until(lambda b: version() >= 4)
        slider = browser.find_element(By.CSS_SELECTOR, "input[type=range][data-operation=contrast]")
        browser.execute_script("arguments[0].value = 1.6; arguments[0].dispatchEvent(new Event('change'))", slider)
        wait.until(lambda b: version() >= 5)
        assert "error" not in browser.find_element(By.ID, "status").get_attribute("class")
        browser.save_screenshot(str(tmp_path / "2-guided.png"))

        browser.find_element(By.ID, "download").click()           # full resolution, as a PNG file
        wait.until(lambda b: list((tmp_path / "downloads").glob("*-colorized.png")))
        downloaded = np.asarray(Image.open(next((tmp_path / "downloads").glob("*-colorized.png"))))
        assert downloaded.shape == (120, 160, 3)
    finally:
        browser.quit()


@pytest.mark.skipif(not browser_available(), reason="no chromium and chromium-driver (apt-get install chromium "
                                                    "chromium-driver); the HTTP tests above still run")
def test_the_first_minute_empty_page_phone_width_and_an_error(live_server, tmp_path):
    """Before a photo: an invitation, no empty panels; at 390 px no sideways scroll; an unreadable
    file: a message and still no broken panels; a photo: two panels of one width."""
    pytest.importorskip("selenium.webdriver", reason="selenium drives the browser")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser = chrome(tmp_path)
    wait = WebDriverWait(browser, 60)
    shown = lambda selector: [e for e in browser.find_elements(By.CSS_SELECTOR, selector) if e.is_displayed()]  # noqa: E731
    try:
        browser.get(live_server)
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#operations .operation"))
        browser.save_screenshot(str(tmp_path / "1-empty.png"))
        assert not shown("#work") and not shown("img") and not shown("#compare")
        assert "photo" in browser.find_element(By.ID, "drop").text.lower()
        browser.set_window_size(390, 844)
        width = browser.execute_script("return document.documentElement.clientWidth")
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width
        words = browser.find_element(By.CSS_SELECTOR, "#drop span")
        assert words.size["height"] < 2 * words.size["width"] / len(words.text) * 2.5, "one line, not a column"
        browser.save_screenshot(str(tmp_path / "2-phone.png"))

        (tmp_path / "notes.png").write_bytes(b"not an image at all")
        browser.find_element(By.ID, "file").send_keys(str(tmp_path / "notes.png"))
        wait.until(lambda b: "error" in b.find_element(By.ID, "status").get_attribute("class"))
        assert not shown("#work") and not shown("img")
        browser.save_screenshot(str(tmp_path / "3-error.png"))

        browser.set_window_size(1400, 900)
        Image.fromarray(synthetic_photo(600, 400)).convert("L").save(tmp_path / "tall.png")
        browser.find_element(By.ID, "file").send_keys(str(tmp_path / "tall.png"))
        wait.until(lambda b: int(b.find_element(By.ID, "result").get_attribute("data-version") or 0) >= 1)
        original, result = (browser.find_element(By.ID, name).size for name in ("original", "result"))
        assert abs(original["width"] - result["width"]) <= 1 and abs(original["height"] - result["height"]) <= 1
        assert "error" not in browser.find_element(By.ID, "status").get_attribute("class")
        browser.set_window_size(390, 844)
        assert browser.execute_script("return document.documentElement.scrollWidth") <= \
            browser.execute_script("return document.documentElement.clientWidth")
        browser.save_screenshot(str(tmp_path / "4-phone-with-photo.png"))
        severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert not severe, severe                       # no favicon 404, no script error
    finally:
        browser.quit()


@pytest.mark.skipif(not browser_available(), reason="no chromium and chromium-driver (apt-get install chromium "
                                                    "chromium-driver); the HTTP tests above still run")
def test_the_point_tools_in_a_real_browser(live_server, tmp_path):
    """Suggested colours, undo and redo, clear all, hidden markers, the before/after slider, and points
    saved and loaded as the project's JSON (in the photo's own pixels)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium drives the browser")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser = chrome(tmp_path)
    wait = WebDriverWait(browser, 60)
    version = lambda: int(browser.find_element(By.ID, "result").get_attribute("data-version") or 0)  # noqa: E731
    colours = lambda: [e.get_attribute("value") for e in browser.find_elements(By.CSS_SELECTOR, "#points .point-colour")]  # noqa: E731
    click = lambda name: browser.find_element(By.ID, name).click()  # noqa: E731
    try:
        browser.get(live_server)
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#operations .operation"))
        Image.fromarray(synthetic_photo(640, 800)).convert("L").save(tmp_path / "old.png")   # preview: 512 x 410
        browser.find_element(By.ID, "file").send_keys(str(tmp_path / "old.png"))
        wait.until(lambda b: version() >= 1)
        result = browser.find_element(By.ID, "result")
        webdriver.ActionChains(browser).move_to_element_with_offset(result, -100, -50).click().perform()
        wait.until(lambda b: version() >= 2 and b.find_elements(By.CSS_SELECTOR, ".palette .swatch"))
        swatch = browser.find_elements(By.CSS_SELECTOR, ".palette .swatch")[-1]
        chosen = swatch.get_attribute("data-color")
        swatch.click()                                            # a suggested colour: the point takes it
        wait.until(lambda b: version() >= 3)
        assert colours() == [chosen]
        click("undo")
        wait.until(lambda b: version() >= 4)
        assert colours() != [chosen] and len(colours()) == 1
        click("redo")
        wait.until(lambda b: version() >= 5 and colours() == [chosen])
        click("clear")
        wait.until(lambda b: version() >= 6 and colours() == [])
        click("undo")
        wait.until(lambda b: version() >= 7 and colours() == [chosen])

        click("show-points")                                      # markers hidden, points kept
        assert not browser.find_element(By.CSS_SELECTOR, ".marker").is_displayed() and colours() == [chosen]
        slider = browser.find_element(By.ID, "compare")
        browser.execute_script("arguments[0].value = 40; arguments[0].dispatchEvent(new Event('input'))", slider)
        assert "60%" in browser.find_element(By.ID, "before").get_attribute("style")

        click("save-points")
        wait.until(lambda b: list((tmp_path / "downloads").glob("*-points.json")))
        saved = json.loads(next((tmp_path / "downloads").glob("*-points.json")).read_text())
        assert [p["color"] for p in saved] == [chosen]
        assert 0 < saved[0]["x"] < 800 and 0 < saved[0]["y"] < 640 and abs(saved[0]["x"] - 400) > 50  # photo pixels
        (tmp_path / "mine.json").write_text(json.dumps([{"y": 600.0, "x": 700.0, "color": "#2050C0"}]))
        browser.find_element(By.ID, "load-points").send_keys(str(tmp_path / "mine.json"))
        wait.until(lambda b: version() >= 8 and colours() == ["#2050c0"])
        (tmp_path / "bad.json").write_text(json.dumps([{"y": 900, "x": 1, "color": "#2050c0"}]))
        browser.find_element(By.ID, "load-points").send_keys(str(tmp_path / "bad.json"))
        wait.until(lambda b: "not inside the 800x640 photo" in b.find_element(By.ID, "status").text)
        assert colours() == ["#2050c0"]
        severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert not severe, severe
    finally:
        browser.quit()


@pytest.mark.parametrize("host, warned", [("127.0.0.1", False), ("0.0.0.0", True)])
def test_the_serve_command_prints_its_url_and_warns_when_open_to_the_network(tmp_path, model, host, warned):
    import subprocess
    import sys
    import urllib.request

    import nnscratch as nn

    nn.save(tmp_path / "m.npz", {"format": "colorize-model", "config": {"model": model.config},
                                 "model": dict(model.state_dict())})
    process = subprocess.Popen([sys.executable, "-m", "colorize", "serve", "--port", "0", "--host", host,
                                "--checkpoint", str(tmp_path / "m.npz")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("colorize serve: open http://127.0.0.1:"), line
        url = line.split()[3]
        with urllib.request.urlopen(url + "api/operations", timeout=30) as answer:
            assert "operations" in json.load(answer)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert ("anyone who can reach this machine" in err) == warned


def test_vividness_is_a_field_of_the_request_and_the_models_default_is_announced(client, model):
    photo = synthetic_photo(24, 32)
    assert client.get("/api/operations").get_json()["vividness"] == model.config.get("vividness", 0.0)
    answer = post(client, {"vividness": "0.5"}, png_bytes(photo))
    assert answer.status_code == 200
    expected = colorize(photo, model, vividness=0.5)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(answer.data))), expected)
    for bad in ("2", "lots", "-1"):
        answer = post(client, {"vividness": bad}, png_bytes(photo))
        assert answer.status_code == 400 and "vividness" in answer.get_json()["error"]


@pytest.mark.skipif(not browser_available(), reason="no chromium and chromium-driver (apt-get install chromium "
                                                    "chromium-driver); the HTTP tests above still run")
def test_a_video_clip_preview_in_a_real_browser(live_server, tmp_path):
    """A clip chosen on the page: four of its frames come back colorized, with their numbers and times;
    a file that is not a video: one sentence, no frames."""
    pytest.importorskip("selenium.webdriver", reason="selenium drives the browser")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    (tmp_path / "clip.mkv").write_bytes(clip_bytes([synthetic_photo(96, 128, seed=t) for t in range(7)]))
    browser = chrome(tmp_path)
    wait = WebDriverWait(browser, 60)
    try:
        browser.get(live_server)
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#operations .operation"))
        browser.find_element(By.ID, "clip").send_keys(str(tmp_path / "clip.mkv"))
        wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#clip-frames img")) == 4)
        captions = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#clip-frames figcaption")]
        assert captions == ["frame 0 (0.00 s)", "frame 2 (0.20 s)", "frame 4 (0.40 s)", "frame 6 (0.60 s)"], captions
        widths = [e.size["width"] for e in browser.find_elements(By.CSS_SELECTOR, "#clip-frames img")]
        assert min(widths) > 100 and browser.execute_script(
            "return [...document.querySelectorAll('#clip-frames img')].every(i => i.complete && i.naturalWidth === 128)")
        assert "4 of its 7 frames" in browser.find_element(By.ID, "clip-status").text
        browser.save_screenshot(str(tmp_path / "clip.png"))
        (tmp_path / "notes.mkv").write_bytes(b"not a video at all")
        browser.find_element(By.ID, "clip").send_keys(str(tmp_path / "notes.mkv"))
        wait.until(lambda b: "error" in b.find_element(By.ID, "clip-status").get_attribute("class"))
        assert "not a video" in browser.find_element(By.ID, "clip-status").text
        assert not browser.find_elements(By.CSS_SELECTOR, "#clip-frames img")
    finally:
        browser.quit()
