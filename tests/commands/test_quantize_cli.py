"""``tddfa quantize --detector``: an INT8 FaceBoxes from a checkpoint, with its settings and provenance."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tddfa.cli import main


def test_detector_quantization_writes_onnx_and_settings(shared_data, tmp_path):
    pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    from tddfa.runtime.registry import MODELS_DIR, load_detector

    out = tmp_path / "fb_int8.onnx"
    assert main(["quantize", "--detector", "--pack", str(shared_data / "300w"), "-o", str(out)]) == 0
    cfg = json.loads(out.with_suffix(".json").read_text())
    shipped = json.loads((MODELS_DIR / "faceboxes.json").read_text())
    assert cfg["score_threshold"] == shipped["score_threshold"] and cfg["max_width"] == shipped["max_width"]
    assert cfg["quantized_from"]["model"] == "faceboxes.pth" and cfg["name"] == "fb_int8"
    assert "QuantizeLinear" in {n.op_type for n in onnx.load(str(out)).graph.node}
    det = load_detector(out)
    assert det(np.zeros((200, 300, 3), np.uint8)).shape[1] == 5


@pytest.mark.parametrize("argv,msg", [(["tddfa_mb05", "--detector"], "not both"), ([], "give a regressor"),
                                      (["--detector", "x.onnx"], ".pth")])
def test_quantize_argument_errors(argv, msg, tmp_path, capsys):
    code = main(["quantize", *argv, "--pack", str(tmp_path), "-o", str(tmp_path / "o.onnx")])
    assert code != 0 and msg in capsys.readouterr().err
