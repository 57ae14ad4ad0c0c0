"""The shipped INT8 copy of the default regressor (``tddfa_mb1_mb05_int8``) against its FP32 original."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from tddfa.io.images import read_image
from tddfa.runtime.registry import MODELS_DIR, resolve_regressor

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"
ROI = np.array([[150.0, 40.0, 320.0, 210.0]])  # around the astronaut's face


def test_int8_json_names_the_fp32_model_it_was_made_from():
    cfg = json.loads((MODELS_DIR / "tddfa_mb1_mb05_int8.json").read_text())
    fp32 = MODELS_DIR / f"{cfg['quantized_from']['model']}.onnx"
    # a retrained FP32 default must be quantized again, not shipped next to a stale INT8 copy
    assert hashlib.sha256(fp32.read_bytes()).hexdigest() == cfg["quantized_from"]["sha256"]
    spec, base = resolve_regressor("tddfa_mb1_mb05_int8"), resolve_regressor("tddfa_mb1_mb05")
    assert spec.roi_box_scale == base.roi_box_scale and spec.verify_threshold == base.verify_threshold
    assert np.array_equal(spec.param_mean, base.param_mean)


def test_int8_landmarks_stay_within_a_pixel_or_two_of_fp32(bfm):
    from tddfa.api import FaceAligner

    img = read_image(EXAMPLE)
    lm = {}
    for name in ("tddfa_mb1_mb05", "tddfa_mb1_mb05_int8"):
        al = FaceAligner(model=name, detector=lambda x: np.zeros((0, 5), np.float32), verify=None)
        (face,) = al.align(img, rois=ROI)
        lm[name] = face.landmarks_2d
    shift = np.linalg.norm(lm["tddfa_mb1_mb05"] - lm["tddfa_mb1_mb05_int8"], axis=1)
    side = ROI[0, 2] - ROI[0, 0]
    assert 0 < shift.mean() < 0.015 * side  # quantized (not the same numbers), yet close: 170 px ROI -> < 2.6 px


def test_quantize_command_writes_a_loadable_int8_model(tmp_path, shared_data, capsys):
    onnx = pytest.importorskip("onnx")
    from tddfa.cli import main

    if not (shared_data / "300w" / "annotations.npz").exists():
        pytest.skip("300W pack not found")
    out = tmp_path / "mb05_int8.onnx"
    assert main(["quantize", "tddfa_mb05", "--pack", str(shared_data / "300w"), "--calib-step", "200",
                 "-o", str(out)]) == 0
    cfg = json.loads(out.with_suffix(".json").read_text())
    assert cfg["name"] == "mb05_int8" and cfg["quantized_from"]["model"] == "tddfa_mb05"
    g = onnx.load(str(out)).graph
    ops = [n.op_type for n in g.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    # the recipe keeps the first convolution in float: it reads the image itself, not a quantized copy
    assert any(n.op_type == "Conv" and n.input[0] == g.input[0].name for n in g.node)
    assert resolve_regressor(str(out)).name == "mb05_int8"


def test_quantize_command_refuses_bad_outputs(tmp_path):
    from tddfa.cli import main

    assert main(["quantize", "tddfa_mb05", "--pack", str(tmp_path), "-o", str(tmp_path / "x.txt")]) != 0
    assert main(["quantize", "tddfa_mb05", "--pack", str(tmp_path),
                 "-o", str(MODELS_DIR / "tddfa_mb05.onnx")]) != 0
