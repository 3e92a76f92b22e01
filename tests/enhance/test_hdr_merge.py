"""Multi-exposure HDR against OpenCV, on brackets built from a known scene and camera."""
import numpy as np
import pytest

from enhance import hdr_merge

cv2 = pytest.importorskip("cv2", reason="OpenCV is the reference")
TIMES = np.array([1 / 30, 1 / 8, 1 / 2, 2.0], dtype=np.float32)


def camera(radiance, time, gamma=1.8):
    """A known response: f(x) = (x / (1 + x)) ** (1 / gamma), quantised to 8 bits."""
    exposed = radiance * time
    return np.clip(np.rint((exposed / (1 + exposed)) ** (1 / gamma) * 255), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def scene():
    """A radiance map: a photograph (linearised, scaled) under a left-to-right lighting gradient."""
    data = pytest.importorskip("skimage.data", reason="scikit-image ships the photograph")
    photo = data.astronaut()[::4, ::4].astype(np.float64) / 255
    _, xx = np.mgrid[:photo.shape[0], :photo.shape[1]]
    return (photo ** 2.2 * 4 + 0.01) * (0.2 + 2 * xx / photo.shape[1])[..., None]


@pytest.fixture(scope="module")
def bracket(scene):
    return [camera(scene, t) for t in TIMES]


@pytest.fixture(scope="module")
def opencv_response(bracket):
    """OpenCV's Debevec calibration (its float32 SVD takes about 25 s: computed once)."""
    return cv2.createCalibrateDebevec().process(bracket, TIMES.copy())


def relative(a, b):
    return np.max(np.abs(a - b) / np.abs(b))


def test_merge_debevec_matches_opencv_with_and_without_a_response(bracket, opencv_response):
    assert relative(hdr_merge.merge_debevec(bracket, TIMES), cv2.createMergeDebevec().process(bracket, TIMES.copy())) <= 1e-5
    response = opencv_response
    ours = hdr_merge.merge_debevec(bracket, TIMES, response[:, 0, :])
    assert relative(ours, cv2.createMergeDebevec().process(bracket, TIMES.copy(), response)) <= 1e-5


def test_calibrate_debevec_matches_opencv_up_to_its_scale_and_recovers_the_camera(bracket, opencv_response):
    ours = hdr_merge.calibrate_debevec(bracket, TIMES)
    theirs = opencv_response[:, 0, :]
    # OpenCV solves in float32 and misses its own g(128) = 0 row by 0.36 %: compare shapes.
    assert ours[128, 0] == pytest.approx(1.0, abs=1e-6)
    assert relative(ours, theirs / theirs[128]) <= 2e-3
    # The true inverse response, x = z / (1 - z) for z = v ** 1.8, up to scale, on well-exposed levels.
    levels = np.arange(30, 230)
    normalised = (levels / 255) ** 1.8
    truth = normalised / (1 - normalised)
    recovered = ours[levels].mean(axis=1)
    correlation = np.corrcoef(np.log(truth), np.log(recovered))[0, 1]
    assert correlation > 0.999, correlation


def test_robertson_matches_opencv(bracket):
    ours = hdr_merge.merge_robertson(bracket, TIMES)
    assert relative(ours, cv2.createMergeRobertson().process(bracket, TIMES.copy())) <= 1e-5
    response = hdr_merge.calibrate_robertson(bracket, TIMES)
    theirs = cv2.createCalibrateRobertson().process(bracket, TIMES.copy())[:, 0, :]
    seen = np.isfinite(theirs)  # OpenCV leaves NaN at levels that never occur; we interpolate
    assert not np.isnan(response).any()
    assert np.max(np.abs(response[seen] - theirs[seen]) / np.maximum(theirs[seen], 1e-3)) <= 1e-4


def test_merged_radiance_correlates_with_the_true_scene(bracket, scene):
    radiance = hdr_merge.merge_debevec(bracket, TIMES, hdr_merge.calibrate_debevec(bracket, TIMES))
    correlation = np.corrcoef(np.log(radiance.ravel()), np.log(scene.ravel()))[0, 1]
    assert correlation > 0.99, correlation


@pytest.mark.parametrize("weights", [(1, 1, 0), (1, 1, 1), (0.5, 2, 1)])
def test_merge_mertens_matches_opencv(bracket, weights):
    ours = hdr_merge.merge_mertens(bracket, *weights)
    theirs = cv2.createMergeMertens(*weights).process(bracket)
    assert np.abs(ours - theirs).max() <= 5e-5
    to_uint8 = lambda x: np.clip(x * 255, 0, 255).astype(int)  # noqa: E731
    assert np.abs(to_uint8(ours) - to_uint8(theirs)).max() <= 1


def test_tonemaps_match_opencv_and_never_give_nan(bracket):
    radiance = hdr_merge.merge_debevec(bracket, TIMES)
    pairs = [(hdr_merge.tonemap(radiance, 1.0), cv2.createTonemap(1.0)),
             (hdr_merge.tonemap_reinhard(radiance), cv2.createTonemapReinhard()),
             (hdr_merge.tonemap_drago(radiance), cv2.createTonemapDrago()),
             (hdr_merge.tonemap_mantiuk(radiance), cv2.createTonemapMantiuk()),
             (hdr_merge.tonemap_mantiuk(radiance, 2.2, 0.85, 1.2), cv2.createTonemapMantiuk(2.2, 0.85, 1.2))]
    for ours, theirs in pairs:
        assert np.abs(ours - theirs.process(radiance.copy())).max() <= 1e-4
    for gamma in (0.5, 2.2):
        for mapped in (hdr_merge.tonemap(radiance, gamma), hdr_merge.tonemap_reinhard(radiance, gamma),
                       hdr_merge.tonemap_drago(radiance, gamma), hdr_merge.tonemap_mantiuk(radiance, gamma)):
            assert np.isfinite(mapped).all() and mapped.min() >= 0 and mapped.max() <= 1


def test_bad_brackets_are_clear_errors(bracket):
    with pytest.raises(ValueError, match="at least two"):
        hdr_merge.merge_mertens(bracket[:1])
    with pytest.raises(ValueError, match="one exposure time per image"):
        hdr_merge.merge_debevec(bracket, TIMES[:3])
    with pytest.raises(ValueError, match="positive"):
        hdr_merge.merge_debevec(bracket, [1, 2, -1, 4])
    with pytest.raises(ValueError, match="share one shape"):
        hdr_merge.merge_mertens([bracket[0], bracket[1][:-1]])
    with pytest.raises(TypeError, match="uint8"):
        hdr_merge.merge_mertens([b.astype(np.float32) for b in bracket])
    shuffled = [bracket[i] for i in (2, 0, 3, 1)]
    np.testing.assert_allclose(hdr_merge.merge_debevec(shuffled, TIMES[[2, 0, 3, 1]]), hdr_merge.merge_debevec(bracket, TIMES),
                               rtol=1e-5)  # order only changes float32 rounding


def test_hdr_merge_command(bracket, tmp_path, capsys):
    from PIL import Image

    from enhance.cli import main
    from enhance.io import exposure_time, read_image

    paths = []
    for index, (image, time) in enumerate(zip(bracket, TIMES)):
        path = tmp_path / f"b{index}.jpg"
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x829A] = float(time)
        Image.fromarray(image).save(path, exif=exif, quality=95)
        paths.append(str(path))
    assert exposure_time(paths[0]) == pytest.approx(1 / 30, rel=1e-3)
    assert main(["hdr-merge", *paths, "-o", str(tmp_path / "fused.png")]) == 0
    assert read_image(tmp_path / "fused.png").shape == bracket[0].shape
    assert main(["hdr-merge", *paths, "--method", "debevec", "--tonemap", "drago", "-o", str(tmp_path / "d.png"),
                 "--save-radiance", str(tmp_path / "r.npy")]) == 0  # times from EXIF
    assert np.load(tmp_path / "r.npy").dtype == np.float32
    assert main(["hdr-merge", *paths, "--method", "debevec", "-o", str(tmp_path / "d2.png"),
                 "--save-radiance", str(tmp_path / "r.hdr")]) == 0
    saved = np.load(tmp_path / "r.npy")
    read_back = cv2.imread(str(tmp_path / "r.hdr"), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR)[..., ::-1]
    # RGBE: 8-bit mantissas under a shared exponent
    assert np.max(np.abs(read_back - saved) / (saved.max(axis=2, keepdims=True) + 1e-12)) <= 2 ** -7
    assert main(["hdr-merge", *paths, "--times", "1/30", "1/8", "1/2", "2", "--method", "robertson",
                 "-o", str(tmp_path / "r.png")]) == 0
    assert main(["hdr-merge", *paths, "--times", "1/30", "0", "1/2", "2", "--method", "debevec", "-o", str(tmp_path / "x.png")]) == 2
    assert "positive" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


# --- channel order: every function takes RGB ---------------------------------------------------
# OpenCV's photo module (MergeMertens, the tone maps) converts colour to gray with
# 0.299 c0 + 0.587 c1 + 0.114 c2, i.e. it reads channel 0 as red although its own images are
# BGR.  Fed an RGB array as it stands, OpenCV therefore weighs red 0.299 and blue 0.114 —
# the Rec. 601 luma our functions compute on RGB.  Fed OpenCV's usual BGR order it would
# weigh blue 0.299, which is the quirk, not the reference: the tests below show both facts.

def red_and_blue_halves(value=0.6):
    """(8, 8, 3) float32 RGB radiance: left half pure red, right half pure blue, of equal value."""
    image = np.full((8, 8, 3), 0.05, dtype=np.float32)
    image[:, :4, 0] = value
    image[:, 4:, 2] = value
    return image


def test_luminance_weighs_red_0299_and_blue_0114():
    gray = hdr_merge._gray(red_and_blue_halves())
    np.testing.assert_allclose(gray[0, 0], 0.299 * 0.6 + (0.587 + 0.114) * 0.05, rtol=1e-6)
    np.testing.assert_allclose(gray[0, 7], 0.114 * 0.6 + (0.299 + 0.587) * 0.05, rtol=1e-6)
    # through the tone maps: pure red and pure blue of equal value do not map alike, and red,
    # the brighter to the eye, keeps more of its value under Drago's compression
    for tonemap in (hdr_merge.tonemap_reinhard, hdr_merge.tonemap_drago, hdr_merge.tonemap_mantiuk):
        mapped = tonemap(red_and_blue_halves())
        assert abs(mapped[0, 0, 0] - mapped[0, 7, 2]) > 1e-3, tonemap.__name__


def test_opencv_photo_module_reads_channel_0_as_red():
    rgb = red_and_blue_halves()
    ours = hdr_merge.tonemap_drago(rgb)
    as_given = cv2.createTonemapDrago().process(rgb.copy())
    as_bgr = cv2.createTonemapDrago().process(rgb[..., ::-1].copy())[..., ::-1]
    assert np.abs(ours - as_given).max() <= 1e-5          # OpenCV's gray on the array as it stands
    assert np.abs(ours - as_bgr).max() > 1e-2             # BGR order swaps the weights of red and blue


@pytest.fixture(scope="module")
def photo_brackets():
    """Brackets from three colour photographs with strong reds and blues (scikit-image's data)."""
    data = pytest.importorskip("skimage.data", reason="scikit-image ships the photographs")
    brackets = []
    for photo in (data.coffee()[::3, ::3], data.chelsea()[::3, ::3], data.rocket()[::3, ::3]):
        scene = (photo.astype(np.float64) / 255) ** 2.2 * 3 + 0.01
        brackets.append([camera(scene, t) for t in TIMES])
    return brackets


def test_fusion_and_tone_maps_match_opencv_on_photographs(photo_brackets):
    # The rocket's sky is flat: its contrast weights are ~0 in every exposure, so the per-pixel
    # normalisation divides numbers near the 1e-12 floor and last-bit differences in the gray
    # grow to 1e-3 there (still at most one 8-bit level); elsewhere the match is 5e-7.
    for bracket, float_tolerance in zip(photo_brackets, (5e-5, 5e-5, 2e-3)):
        ours = hdr_merge.merge_mertens(bracket, 1, 1, 1)
        theirs = cv2.createMergeMertens(1, 1, 1).process(bracket)
        assert np.abs(ours - theirs).max() <= float_tolerance
        to_uint8 = lambda x: np.clip(x * 255, 0, 255).astype(int)  # noqa: E731
        assert np.abs(to_uint8(ours) - to_uint8(theirs)).max() <= 1
        radiance = hdr_merge.merge_debevec(bracket, TIMES)
        for mine, theirs in ((hdr_merge.tonemap_reinhard(radiance), cv2.createTonemapReinhard()),
                             (hdr_merge.tonemap_drago(radiance), cv2.createTonemapDrago()),
                             (hdr_merge.tonemap_mantiuk(radiance), cv2.createTonemapMantiuk())):
            assert np.abs(mine - theirs.process(radiance.copy())).max() <= 1e-4


def test_swapping_red_and_blue_swaps_them_in_radiance_merges(photo_brackets):
    bracket = photo_brackets[0]
    swapped = [image[..., ::-1].copy() for image in bracket]
    for merge in (lambda b: hdr_merge.merge_debevec(b, TIMES), lambda b: hdr_merge.merge_robertson(b, TIMES)):
        np.testing.assert_allclose(merge(swapped), merge(bracket)[..., ::-1], rtol=1e-5)
