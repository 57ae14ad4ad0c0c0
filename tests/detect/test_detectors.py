"""The detectors on real and synthetic images: the default (RetinaFace, fetched once with pip), our FaceBoxes
and its INT8 copy, else the reference FaceBoxes exported once (needs torch and ../shared)."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from tddfa.detect.boxes import iou_matrix
from tddfa.errors import InputError, ModelNotAvailableError
from tddfa.runtime.registry import MODELS_DIR, load_detector

FACEBOXES_ONNX = MODELS_DIR / "faceboxes.onnx"

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"
REF = Path(__file__).resolve().parents[3] / "shared" / "data" / "reference" / "3ddfa_v2"


# the default (RetinaFace), the shipped FaceBoxes, its INT8 copy, and the INT8 copy with the mirrored pass
SHIPPED = {"retinaface": ("default", {}), "faceboxes": ("faceboxes", {}), "int8": ("faceboxes_int8", {}),
           "int8_flip": ("faceboxes_int8", {"flip": True, "box_voting": True})}


@pytest.fixture(scope="module", params=list(SHIPPED))
def detector(request):
    if FACEBOXES_ONNX.exists():
        spec, kw = SHIPPED[request.param]
        return load_detector(spec, **kw)
    if request.param != "faceboxes":
        pytest.skip("no shipped detector")
    if not (REF / "FaceBoxesProd.pth").exists():
        pytest.skip("no shipped detector and no reference FaceBoxes weights in ../shared")
    pytest.importorskip("torch", reason="exporting the reference detector needs torch")
    return load_detector(f"reference:{REF}")


@pytest.fixture(scope="module")
def astronaut():
    return cv2.imread(str(EXAMPLE))


def _check(dets):
    assert dets.dtype == np.float32 and dets.ndim == 2 and dets.shape[1] == 5
    assert np.all(dets[:, 2] > dets[:, 0]) and np.all(dets[:, 3] > dets[:, 1])
    assert np.all(np.diff(dets[:, 4]) <= 0)  # highest score first


def test_finds_the_face(detector, astronaut):
    dets = detector(astronaut)
    _check(dets)
    assert len(dets) >= 1
    x1, y1, x2, y2, s = dets[0]
    # the face is in the upper middle of the 512x512 photo
    assert 120 < (x1 + x2) / 2 < 330 and 40 < (y1 + y2) / 2 < 220 and 40 < x2 - x1 < 250


@pytest.mark.parametrize("img", [np.zeros((240, 320, 3), np.uint8), np.full((50, 900, 3), 128, np.uint8)])
def test_no_face_gives_empty(detector, img):
    dets = detector(img)
    assert dets.shape == (0, 5) and dets.dtype == np.float32


@pytest.mark.parametrize("hw", [(1, 1), (7, 300), (300, 7), (33, 65), (2000, 150)])
def test_any_size(detector, hw, rng):
    img = rng.integers(0, 256, (*hw, 3), dtype=np.uint8)
    _check(detector(img))


@pytest.mark.parametrize("scale,pad", [(1.0, (0, 300)), (3.0, (0, 0)), (0.5, (200, 0))])
def test_boxes_follow_resizing_and_aspect(detector, astronaut, scale, pad):
    """Boxes are in input pixels whatever the size/aspect (incl. the policy's internal downscale)."""
    base = detector(astronaut)[0, :4]
    img = cv2.resize(astronaut, None, fx=scale, fy=scale)
    img = cv2.copyMakeBorder(img, pad[0], 0, pad[1], 0, cv2.BORDER_CONSTANT)
    dets = detector(img)
    assert len(dets)
    expect = base * scale + np.array([pad[1], pad[0], pad[1], pad[0]])
    # a wrong coordinate mapping gives IoU far under 0.5; INT8 moves the half-size (48 px) face's box by 1-2 px more
    # than FP32 does (measured IoU 0.69 against 0.74)
    assert iou_matrix(dets[:, :4], expect[None]).max() > (0.7 if detector.onnx_path.stem == "faceboxes" else 0.65)


def test_gray_and_bgra(detector, astronaut):
    base = detector(astronaut)
    bgra = cv2.cvtColor(astronaut, cv2.COLOR_BGR2BGRA)
    np.testing.assert_array_equal(detector(bgra), base)
    gray = cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY)
    dg = detector(gray)
    assert len(dg) and iou_matrix(dg[:, :4], base[:1, :4]).max() > 0.7


def test_empty_array_is_input_error(detector):
    with pytest.raises(InputError):
        detector(np.zeros((0, 5, 3), np.uint8))


def test_unknown_spec_is_clear_error(tmp_path):
    with pytest.raises(ModelNotAvailableError):
        load_detector(str(tmp_path / "nope.onnx"))
    with pytest.raises(ModelNotAvailableError, match="shipped detector"):
        load_detector("something-else")


def test_a_shipped_detector_resolves_by_name():
    if not FACEBOXES_ONNX.exists():
        pytest.skip("no detector ships")
    assert load_detector(FACEBOXES_ONNX.stem).onnx_path == FACEBOXES_ONNX


@pytest.mark.parametrize("hw", [(1, 1), (7, 13), (607, 1080)])
def test_to_blob_equals_opencv_blob(hw):
    from tddfa.detect.faceboxes import BGR_MEAN, to_blob

    img = np.random.default_rng(0).integers(0, 256, (*hw, 3), dtype=np.uint8)
    ref = cv2.dnn.blobFromImage(img, 1.0, mean=BGR_MEAN, swapRB=False, crop=False)
    out = to_blob(img)
    assert out.shape == ref.shape == (1, 3, *hw) and out.dtype == np.float32
    np.testing.assert_array_equal(out, ref)


def test_box_voting_keeps_the_same_faces_and_scores(astronaut):
    if not FACEBOXES_ONNX.exists():
        pytest.skip("needs the shipped detector")
    plain, voted = load_detector("faceboxes", box_voting=False), load_detector("faceboxes", box_voting=True)
    a, b = plain(astronaut), voted(astronaut)
    # voting moves boxes, never adds, drops or rescores them
    np.testing.assert_array_equal(a[:, 4], b[:, 4])
    assert np.all(np.diag(iou_matrix(a[:, :4], b[:, :4])) > 0.8)
    # and a box does not depend on the threshold it is asked for
    low = voted(astronaut, score_threshold=0.1)
    np.testing.assert_allclose(low[low[:, 4] > voted.score_threshold], b, atol=1e-4)


def test_flip_finds_the_face_where_it_is(astronaut):
    if not FACEBOXES_ONNX.exists():
        pytest.skip("needs the shipped detector")
    det, flip = load_detector("faceboxes"), load_detector("faceboxes", flip=True)
    _check(flip(astronaut))
    # a mirrored image's boxes are mirrored back: the top face box stays on the face
    assert iou_matrix(flip(astronaut)[:1, :4], det(astronaut)[:1, :4])[0, 0] > 0.7
    # the same image mirrored gives the mirrored boxes (both passes are pooled symmetrically)
    w = astronaut.shape[1]
    m = flip(np.ascontiguousarray(astronaut[:, ::-1]))[:1, :4].copy()
    m[:, [0, 2]] = w - m[:, [2, 0]]
    assert iou_matrix(m, flip(astronaut)[:1, :4])[0, 0] > 0.9


def test_explicit_threshold_also_sets_the_verified_one():
    if not FACEBOXES_ONNX.exists():
        pytest.skip("needs the shipped detector")
    d = load_detector("faceboxes", score_threshold=0.7, verified_threshold=0.3)
    assert (d.score_threshold, d.verified_threshold) == (0.7, 0.3)
    assert load_detector("faceboxes", score_threshold=0.7).verified_threshold == 0.7


def test_shipped_int8_detector_finds_the_example_face_where_fp32_does():
    """``faceboxes_int8`` (``tddfa quantize --detector``) against the FP32 file it was made from."""
    import hashlib
    import json

    from tddfa.runtime.registry import MODELS_DIR
    from tddfa.detect.boxes import iou_matrix
    from tddfa.io.images import read_image

    js = MODELS_DIR / "faceboxes_int8.json"
    cfg = json.loads(js.read_text())
    from tddfa.runtime.registry import CHECKPOINTS_DIR

    pth = CHECKPOINTS_DIR / cfg["quantized_from"]["model"]
    assert hashlib.sha256(pth.read_bytes()).hexdigest() == cfg["quantized_from"]["sha256"]  # not a stale copy
    img = read_image(Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg")
    fp32, int8 = load_detector("faceboxes")(img), load_detector("faceboxes_int8")(img)
    face = fp32[np.argmax(fp32[:, 4])]
    best = iou_matrix(face[None, :4], int8[:, :4]).max()
    assert best > 0.9 and abs(len(int8) - len(fp32)) <= 1
    onnx = pytest.importorskip("onnx")
    ops = {n.op_type for n in onnx.load(str(MODELS_DIR / "faceboxes_int8.onnx")).graph.node}
    assert "DequantizeLinear" in ops and "AveragePool" not in ops  # really INT8, pooling folded
