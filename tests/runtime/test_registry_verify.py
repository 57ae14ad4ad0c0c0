"""A model's face/no-face threshold: read from its ``.json`` (default 0.08), taken by ``FaceAligner(verify="auto")``."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tddfa.runtime.registry import RegressorSpec, resolve_regressor


def _model(tmp_path, name: str, **extra) -> str:
    meta = {"name": name, "arch": "mb05", "input_size": 120, "param_mean": [0.5] * 62, "param_std": [2.0] * 62,
            **extra}
    (tmp_path / f"{name}.json").write_text(json.dumps(meta))
    onnx = tmp_path / f"{name}.onnx"
    onnx.write_bytes(b"")  # the registry only checks that the graph exists
    return str(onnx)


def test_json_without_verify_threshold_gives_the_default(tmp_path):
    spec = resolve_regressor(_model(tmp_path, "plain"))
    assert spec.name == "plain" and spec.verify_threshold == 0.08
    assert RegressorSpec.verify_threshold == 0.08
    assert isinstance(spec.verify_threshold, float)


def test_json_with_verify_threshold_gives_its_value(tmp_path):
    spec = resolve_regressor(_model(tmp_path, "calibrated", verify_threshold=0.057, roi_box_scale=1.61))
    assert spec.verify_threshold == pytest.approx(0.057) and isinstance(spec.verify_threshold, float)
    assert spec.roi_box_scale == pytest.approx(1.61)
    np.testing.assert_array_equal(spec.param_mean, np.full(62, 0.5, np.float32))


def test_written_threshold_is_read_back(tmp_path):
    from tddfa.train.verify_threshold import write_verify_threshold

    onnx = _model(tmp_path, "m")
    write_verify_threshold(tmp_path / "m.json", {"threshold": 0.071, "margin": 1.3, "median": 0.02, "p99": 0.05,
                                                 "max": 0.0546, "n_faces": 10, "missed": 0, "split": "train"})
    assert resolve_regressor(onnx).verify_threshold == pytest.approx(0.071)


def test_default_model_aligner_takes_the_specs_threshold_unless_overridden(bfm):
    from tddfa import FaceAligner

    spec = resolve_regressor("default")
    assert FaceAligner().verify == spec.verify_threshold
    assert FaceAligner(verify="auto").verify == spec.verify_threshold
    assert FaceAligner(verify=None).verify is None
    assert FaceAligner(verify=0.2).verify == 0.2


def test_auto_follows_a_models_own_threshold(bfm, tmp_path):
    """A copy of the shipped default with a calibrated threshold: "auto" must pick that value, not 0.08."""
    from tddfa import FaceAligner

    spec = resolve_regressor("default")
    meta = json.loads(spec.onnx.with_suffix(".json").read_text())
    meta.update(name="cal", verify_threshold=0.031)
    (tmp_path / "cal.json").write_text(json.dumps(meta))
    onnx = tmp_path / "cal.onnx"
    try:
        os.symlink(spec.onnx, onnx)
    except OSError:
        onnx.write_bytes(spec.onnx.read_bytes())
    al = FaceAligner(model=str(onnx))
    assert al.spec.name == "cal" and al.verify == pytest.approx(0.031)
    assert FaceAligner(model=str(onnx), verify=None).verify is None
    assert FaceAligner(model=str(onnx), verify=0.2).verify == 0.2
