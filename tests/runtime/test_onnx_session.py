"""ONNX Runtime sessions: thread options are honoured; dynamic batch; empty batch."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    """A tiny regressor-shaped graph, (batch, 3, 120, 120) -> (batch, 62), built without torch."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 0.1, (8, 3, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(0, 0.1, (8, 62)).astype(np.float32), "fc")]
    nodes = [helper.make_node("Conv", ["input", "w"], ["c"], strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]), helper.make_node("GlobalAveragePool", ["r"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]), helper.make_node("MatMul", ["f", "fc"], ["output"])]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                            ["batch", 3, 120, 120])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 62])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_thread_option_honoured(tiny_onnx, threads):
    from tddfa.runtime.onnx import OnnxRegressor, make_session

    opts = make_session(tiny_onnx, threads=threads).get_session_options()
    assert opts.intra_op_num_threads == threads
    assert opts.inter_op_num_threads == 1
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert OnnxRegressor(tiny_onnx, threads=threads).session.get_session_options().intra_op_num_threads == threads


def test_dynamic_batch_and_empty(tiny_onnx, rng):
    from tddfa.runtime.onnx import OnnxRegressor

    reg = OnnxRegressor(tiny_onnx)
    assert reg.session.get_inputs()[0].shape[0] == "batch"
    x = rng.uniform(-1, 1, (5, 3, 120, 120)).astype(np.float32)
    y = reg(x)
    assert y.shape == (5, 62)
    np.testing.assert_allclose(reg(x[2:3]), y[2:3], atol=1e-5)
    assert reg(x[:0]).shape == (0, 62)


def test_missing_model_is_a_clear_error(tmp_path):
    from tddfa.errors import ModelNotAvailableError
    from tddfa.runtime.onnx import make_session

    with pytest.raises(ModelNotAvailableError, match="not found"):
        make_session(tmp_path / "nope.onnx")
