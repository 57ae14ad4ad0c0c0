"""FaceAligner's three-crop regression (mean of the ROI and two shifted copies) and its verify signal."""
import numpy as np
import pytest

from tddfa.geometry.camera import reframe_params
from tddfa.geometry.consistency import pair_rois
from tddfa.io.images import read_image

from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg"
ROI = np.array([[150.0, 40.0, 320.0, 210.0]])  # around the astronaut's face


@pytest.fixture(scope="module")
def img():
    return read_image(EXAMPLE)


def test_three_crops_give_the_mean_of_the_crops_in_the_rois_frame(bfm, img):
    from tddfa import FaceAligner

    assert FaceAligner(detector=lambda im: np.zeros((0, 5))).crops == 1  # images: one crop by default
    al = FaceAligner(detector=lambda im: np.zeros((0, 5)), crops=3)
    face = al.align(img, rois=ROI)[0]
    shifted = pair_rois(ROI)
    p = al.regress(img, np.concatenate([ROI, shifted]))
    expected = (p[0] + reframe_params(p[1:2], shifted[:1], ROI)[0] + reframe_params(p[2:3], shifted[1:], ROI)[0]) / 3
    np.testing.assert_allclose(face.params, expected, rtol=1e-5, atol=1e-5)
    assert 0 < face.disagreement < 0.08  # a real face: the two shifted crops agree
    single = FaceAligner(detector=lambda im: np.zeros((0, 5)), crops=1, flip=False).align(img, rois=ROI)[0]
    np.testing.assert_allclose(single.params, p[0], rtol=1e-6)
    assert np.isnan(single.disagreement)
    # the mean differs from one crop, but only a little (same face)
    d = np.abs(face.landmarks_2d - single.landmarks_2d).mean() / (ROI[0, 2] - ROI[0, 0])
    assert 0 < d < 0.03


def test_a_crop_without_a_face_disagrees(bfm, img):
    from tddfa import FaceAligner

    al = FaceAligner(detector=lambda im: np.zeros((0, 5)), crops=3)
    noise = np.random.default_rng(0).integers(0, 256, (400, 400, 3), dtype=np.uint8)
    face = al.align(noise, rois=np.array([[100.0, 100.0, 300.0, 300.0]]))[0]
    assert face.disagreement > 0.08


def test_verify_keeps_the_same_faces_with_three_crops(bfm, img):
    """verify is the re-crop test with either setting: the shifted pair alone would let false boxes through."""
    from tddfa import FaceAligner

    # our FaceBoxes proposes false boxes on the example (the default detector does not): material for the check
    al = FaceAligner(crops=3, refine=0, detector="faceboxes")  # the check judges the crops before refinement
    one, three = FaceAligner(crops=1, detector="faceboxes")(img), al(img)
    unchecked = FaceAligner(crops=3, verify=None, detector="faceboxes")(img)
    assert len(three) < len(unchecked)  # the re-crop test drops boxes the three crops alone keep
    assert np.all(al.recrop_disagreement(img, three) <= al.verify)
    # the astronaut's face is kept with either setting, from the same detector box
    on_face = [[f.box for f in faces if abs((f.box[0] + f.box[2]) / 2 - 223) < 30 and f.box[1] < 100]
               for faces in (one, three)]
    assert len(on_face[0]) == len(on_face[1]) == 1
    np.testing.assert_allclose(on_face[0][0], on_face[1][0])


def test_crops_must_be_1_or_3():
    from tddfa import FaceAligner

    with pytest.raises(ValueError, match="crops"):
        FaceAligner(crops=2)


class _Detector:
    """Records the threshold FaceAligner asks for; returns no face."""

    score_threshold, verified_threshold = 0.5, 0.25

    def __init__(self):
        self.asked = []

    def __call__(self, image, score_threshold=None):
        self.asked.append(score_threshold)
        return np.zeros((0, 5), np.float32)


def test_proposals_down_to_the_verified_threshold_only_with_the_face_check(bfm, img):
    from tddfa import FaceAligner

    det = _Detector()
    FaceAligner(detector=det)(img)
    FaceAligner(detector=det, verify=None)(img)
    assert det.asked == [0.25, None]  # without the check the detector's own threshold applies
    # a plain callable (no thresholds) is called as it is
    assert FaceAligner(detector=lambda im: np.zeros((0, 5)))(img) == []


def test_refine_recrops_each_face_from_its_own_landmarks(bfm, img):
    from tddfa import FaceAligner
    from tddfa.geometry.roi import roi_from_landmarks

    box = np.array([[170.0, 50.0, 280.0, 190.0, 0.9]], np.float32)
    plain = FaceAligner(detector=lambda im: box, refine=0, verify=None)
    first = plain(img)[0]
    assert FaceAligner(detector=lambda im: box).refine == 1  # images: one refinement by default
    for n in (1, 2):
        faces = FaceAligner(detector=lambda im: box, refine=n, verify=None)(img)
        want = first
        for _ in range(n):  # each pass: crop from the last pass's landmarks, keep the detector's box and score
            want = plain.align(img, landmarks=want.landmarks_2d[None])[0]
        assert len(faces) == 1 and np.allclose(faces[0].box, box[0, :4]) and faces[0].score == pytest.approx(0.9)
        np.testing.assert_allclose(faces[0].roi, roi_from_landmarks(first.landmarks_2d)[0] if n == 1 else want.roi,
                                   rtol=1e-5)
        np.testing.assert_allclose(faces[0].landmarks_2d, want.landmarks_2d, rtol=1e-5, atol=1e-4)
    assert FaceAligner(detector=lambda im: np.zeros((0, 5)), refine=2)(img) == []
    # the face/no-face check judges the box crops (its threshold's calibration): refining keeps the same boxes
    kept = [np.array([f.box for f in FaceAligner(refine=r, detector="faceboxes")(img)]) for r in (0, 1)]
    assert len(kept[0]) >= 2 and np.array_equal(kept[0], kept[1])
    for bad in (-1, 1.5):
        with pytest.raises(ValueError, match="refine"):
            FaceAligner(refine=bad)


def test_fast_is_the_int8_setting_and_keeps_other_options(bfm, img):
    from tddfa.api import FAST, FaceAligner

    al = FaceAligner.fast(max_faces=2)
    assert al.spec.name == FAST["model"] and al.refine == FAST["refine"] == 0 and al.max_faces == 2
    from tddfa.runtime.registry import load_detector

    assert al.detector.onnx_path == load_detector(FAST["detector"]).onnx_path
    with pytest.raises(ValueError, match="refine"):
        FaceAligner.fast(refine=1)
    assert len(al(img)) >= 1  # the example's face, through the INT8 regressor


# ----------------------------------------------------------------------------- argument validation

@pytest.fixture(scope="module")
def plain(bfm):
    from tddfa import FaceAligner

    return FaceAligner(detector=lambda im: np.zeros((0, 5)))


BOX = [172.0, 70.0, 272.0, 185.0]  # the astronaut's face


def test_float_images_in_0_1_give_the_faces_of_the_uint8_image(bfm, img):
    from tddfa import FaceAligner

    al = FaceAligner()
    faces = al(img)
    assert faces
    as_float = al(img.astype(np.float32) / 255)
    assert len(as_float) == len(faces)
    np.testing.assert_allclose(as_float[0].landmarks_2d, faces[0].landmarks_2d, atol=2.0)


@pytest.mark.parametrize("value, words", [
    (None, "got NoneType"), (7, "got int"), (b"\xff\xd8", "cv2.imdecode"),
    (np.zeros((8, 8, 3), bool), "bool array"), (np.full((8, 8, 3), np.nan, np.float32), "NaN"),
    (np.zeros((3, 40, 50), np.uint8), "transpose(1, 2, 0)"), (np.zeros((2, 8, 8, 3), np.uint8), "one image at a time"),
    (np.zeros((0, 8, 3), np.uint8), "empty")])
def test_bad_images_say_what_they_got(plain, value, words):
    from tddfa.errors import InputError

    with pytest.raises(InputError, match=words.replace("(", r"\(").replace(")", r"\)")):
        plain(value)


def test_empty_boxes_give_no_faces(plain, img):
    assert plain.align(img, boxes=[]) == [] and plain.align(img, boxes=np.zeros((0, 4))) == []
    assert len(plain.align(img, boxes=BOX)) == 1  # one box without the N axis


@pytest.mark.parametrize("kw, words", [
    ({"boxes": [1, 2, 3]}, "shape"), ({"boxes": [np.nan, 70, 272, 185]}, "NaN"),
    ({"boxes": [600, 600, 700, 700]}, "outside"), ({"boxes": [172, 70, 172, 185]}, "inverted or smaller"),
    ({"boxes": [272, 185, 172, 70]}, "inverted"), ({"boxes": [BOX + [0.9]]}, r"dets\[:, :4\]"),
    ({"landmarks": np.zeros((5, 2))}, r"\(N, 68, 2\)"), ({"rois": [[0, 0, 0.5, 0.5]]}, "smaller than one pixel"),
    ({"boxes": BOX, "scores": [1, 2]}, "one row per face")])
def test_bad_boxes_and_landmarks_are_clear_errors(plain, img, kw, words):
    from tddfa.errors import InputError

    with pytest.raises(InputError, match=words):
        plain.align(img, **kw)


@pytest.mark.parametrize("kw", [{"refine": -1}, {"refine": 0.5}, {"threads": 0}, {"threads": True}, {"crops": 2},
                                {"max_faces": 0}, {"verify": float("nan")}, {"flip": "yes"},
                                {"flip": True, "crops": 3}])
def test_bad_constructor_options_are_usage_errors(bfm, kw):
    from tddfa import FaceAligner
    from tddfa.errors import UsageError

    with pytest.raises(UsageError, match=next(iter(kw))):
        FaceAligner(detector=lambda im: np.zeros((0, 5)), **kw)


def test_default_finds_one_face_on_the_example_and_none_on_face_free_photos(bfm, img):
    from tddfa import FaceAligner

    al = FaceAligner()
    faces = al(img)
    assert len(faces) == 1
    x1, y1, x2, y2 = faces[0].box
    assert 150 < (x1 + x2) / 2 < 300 and 60 < (y1 + y2) / 2 < 200
    negatives = sorted((Path(__file__).resolve().parents[1] / "examples" / "negatives").glob("*.jpg"))
    assert negatives and all(al(str(p)) == [] for p in negatives)


def test_list_models_names_resolve():
    import tddfa
    from tddfa.runtime.registry import resolve_regressor

    names = tddfa.list_models()
    assert names["regressors"][0] == names["detectors"][0] == "default"
    assert "retinaface" in names["detectors"] and "faceboxes" in names["detectors"]
    for n in names["regressors"]:
        assert resolve_regressor(n).onnx.exists()


def test_flip_answers_the_mirrored_image_with_the_mirrored_face(bfm, img):
    """With ``flip`` the answer is the mean over the crop and its mirror image, so the mirrored photo (and ROI) gives
    the mirrored landmarks, left and right swapped, up to the 3DMM's own asymmetry; one crop alone is less
    symmetric."""
    from tddfa import FaceAligner
    from tddfa.train.fitting import FLIP_PERM

    w = img.shape[1]
    mirrored_img = np.ascontiguousarray(img[:, ::-1])
    mirrored_roi = np.array([[w - ROI[0, 2], ROI[0, 1], w - ROI[0, 0], ROI[0, 3]]])
    side = ROI[0, 2] - ROI[0, 0]
    err = {}
    for flip in (False, True):
        al = FaceAligner(detector=lambda im: np.zeros((0, 5)), flip=flip)
        a = al.align(img, rois=ROI)[0].landmarks_2d
        b = al.align(mirrored_img, rois=mirrored_roi)[0].landmarks_2d[FLIP_PERM]
        b[:, 0] = w - 1 - b[:, 0]
        err[flip] = np.linalg.norm(a - b, axis=1).mean() / side
    assert err[True] < 0.004, err
    assert err[True] < err[False] / 2, err


def test_flip_needs_a_dense_face_model(reference_dir):
    """3DDFA_V2's weights come with a 68-point model: no mirrored crop by default, and asking for one is an error."""
    from tddfa import FaceAligner
    from tddfa.errors import UsageError

    spec = f"reference:{reference_dir}"
    assert not FaceAligner(model=spec, detector=lambda im: np.zeros((0, 5))).flip
    with pytest.raises(UsageError, match="dense face model"):
        FaceAligner(model=spec, detector=lambda im: np.zeros((0, 5)), flip=True)
