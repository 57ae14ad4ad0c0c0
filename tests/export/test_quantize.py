"""INT8 static quantization of a regressor-shaped graph (``tddfa.export.quantize``)."""
from __future__ import annotations

import numpy as np
import pytest


def _tiny(path, rng, unwhiten: bool = False):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(rng.normal(0, 0.3, (16, 3, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(0, 0.3, (16,)).astype(np.float32), "b"),
             numpy_helper.from_array(rng.normal(0, 0.3, (16, 62)).astype(np.float32), "fc")]
    nodes = [helper.make_node("Conv", ["input", "w", "b"], ["c"], strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]), helper.make_node("GlobalAveragePool", ["r"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]), helper.make_node("MatMul", ["f", "fc"], ["m"])]
    if unwhiten:  # as ParamAverage: un-whiten to parameters spanning 1e-4 .. 1e5, then whiten again
        scale = np.logspace(-4, 5, 62).astype(np.float32)
        inits += [numpy_helper.from_array(scale, "s"), numpy_helper.from_array(1 / scale, "inv")]
        nodes += [helper.make_node("Mul", ["m", "s"], ["raw"]), helper.make_node("Mul", ["raw", "inv"], ["output"])]
    else:
        nodes += [helper.make_node("Identity", ["m"], ["output"])]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 120, 120])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 62])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_int8_close_to_fp32_and_really_quantized(tmp_path, rng):
    onnx = pytest.importorskip("onnx")
    from tddfa.export.quantize import quantize_regressor
    from tddfa.runtime.onnx import OnnxRegressor

    fp32 = _tiny(tmp_path / "tiny.onnx", rng)
    calib = rng.uniform(-1, 1, (16, 3, 120, 120)).astype(np.float32)
    q = quantize_regressor(fp32, tmp_path / "tiny_int8.onnx", calib, per_channel=True, reduce_range=True)
    ops = {n.op_type for n in onnx.load(str(q)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    x = rng.uniform(-1, 1, (4, 3, 120, 120)).astype(np.float32)
    a, b = OnnxRegressor(fp32)(x), OnnxRegressor(q)(x)
    assert b.shape == (4, 62)
    rel = np.abs(a - b).max() / np.abs(a).max()
    assert 0 < rel < 0.05  # changed by quantization, but only a little


def test_int8_keeps_wide_range_post_processing_in_float(tmp_path, rng):
    """An 8-bit scale for a tensor spanning 1e-4 .. 1e5 zeroes most of it: the ensemble's averaging of
    un-whitened parameters must stay float (it gave AFLW2000-3D NME 110 % before)."""
    pytest.importorskip("onnx")
    from tddfa.export.quantize import quantize_regressor
    from tddfa.runtime.onnx import OnnxRegressor

    fp32 = _tiny(tmp_path / "tiny.onnx", rng, unwhiten=True)
    calib = rng.uniform(-1, 1, (16, 3, 120, 120)).astype(np.float32)
    q = quantize_regressor(fp32, tmp_path / "tiny_int8.onnx", calib, per_channel=True, reduce_range=True)
    x = rng.uniform(-1, 1, (4, 3, 120, 120)).astype(np.float32)
    a, b = OnnxRegressor(fp32)(x), OnnxRegressor(q)(x)
    assert np.abs(a - b).max() / np.abs(a).max() < 0.05


def test_pack_crops_reads_the_300w_pack(shared_data):
    from tddfa.export.quantize import pack_crops

    if not (shared_data / "300w" / "annotations.npz").exists():
        pytest.skip("300W pack not found")
    crops, rois, pts = pack_crops(shared_data / "300w", "train", limit=3, step=100)
    assert crops.shape == (3, 120, 120, 3) and crops.dtype == np.uint8
    assert rois.shape == (3, 4) and pts.shape == (3, 68, 2)
    # the landmarks lie inside their ROI
    assert (pts.min(1) > rois[:, :2]).all() and (pts.max(1) < rois[:, 2:]).all()


def test_detector_calibration_is_training_mosaics_at_the_720p_input_size(shared_data):
    from tddfa.export.quantize import detector_calibration

    if not (shared_data / "300w" / "annotations.npz").exists():
        pytest.skip("300W pack not found")
    x = detector_calibration(shared_data / "300w", n=2, size=(320, 180))
    assert x.shape == (2, 3, 180, 320) and x.dtype == np.float32
    assert x.std() > 10  # images (BGR minus the mean), not blank canvases
    assert not np.array_equal(x[0], x[1])


def test_missing_pack_is_a_clear_error(tmp_path):
    from tddfa.export.quantize import pack_crops
    from tddfa.errors import InputError

    with pytest.raises(InputError, match="no 300W pack"):
        pack_crops(tmp_path)
