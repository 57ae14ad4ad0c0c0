"""The one door for models: detector specs, list_models and the cached .pth -> ONNX conversion."""
import numpy as np
import pytest

from tddfa.detect import HaarDetector, InputPolicy
from tddfa.errors import ModelNotAvailableError
from tddfa.runtime import registry


def test_detector_size_and_flip_become_the_detector_settings():
    if not (registry.MODELS_DIR / "faceboxes.onnx").exists():
        pytest.skip("no shipped FaceBoxes")
    plain = registry.load_detector("faceboxes")
    capped = registry.load_detector("faceboxes", size=(640, 360), flip=True)
    assert capped.policy == InputPolicy(max_height=360, max_width=640) and capped.policy.scale(720, 1280) == 0.5
    assert capped.flip and capped.box_voting and not plain.flip


def test_callables_haar_and_unknown_specs():
    def fn(img):
        return np.zeros((0, 5), np.float32)

    assert registry.load_detector(fn) is fn
    assert isinstance(registry.load_detector("haar"), HaarDetector)
    with pytest.raises(ModelNotAvailableError, match="unknown detector"):
        registry.load_detector("no-such-detector")
    names = registry.list_models()
    assert "haar" in names["detectors"] and "default" in names["regressors"]


def test_cached_onnx_exports_once_per_content(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "cache_dir", lambda: tmp_path / "cache")
    pth = tmp_path / "w.pth"
    pth.write_bytes(b"one")
    calls = []

    def export(src, onnx):
        calls.append(src)
        onnx.parent.mkdir(parents=True, exist_ok=True)
        onnx.write_bytes(b"onnx")

    a = registry.cached_onnx(pth, "kind", export, "_g1")
    assert registry.cached_onnx(pth, "kind", export, "_g1") == a and len(calls) == 1
    assert a.parent == tmp_path / "cache" / "kind" and a.name.startswith("w_") and a.name.endswith("_g1.onnx")
    pth.write_bytes(b"two")
    assert registry.cached_onnx(pth, "kind", export, "_g1") != a and len(calls) == 2
    with pytest.raises(ModelNotAvailableError):
        registry.cached_onnx(tmp_path / "missing.pth", "kind", export)


def test_an_onnx_path_loads_the_network_it_holds():
    from tddfa.detect import FaceBoxesDetector, RetinaFaceDetector
    from tddfa.detect.provision import fetch_retinaface

    retina = registry.load_detector(str(fetch_retinaface(quiet=True)))
    assert type(retina) is RetinaFaceDetector and type(registry.load_detector("retinaface")) is RetinaFaceDetector
    assert type(registry.load_detector(str(registry.MODELS_DIR / "faceboxes.onnx"))) is FaceBoxesDetector
