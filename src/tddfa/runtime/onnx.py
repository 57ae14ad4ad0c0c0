"""ONNX Runtime sessions with an explicit thread policy.

Several sessions in one process each spin their own worker threads; on a 2-core machine that
makes 2 threads slower than 1. We therefore default to ``intra_op_num_threads=1`` with spinning
disabled, and let the caller raise it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..errors import ModelNotAvailableError


def make_session(path: str | Path, threads: int = 1, *, optimize: bool = True) -> ort.InferenceSession:
    p = Path(path)
    if not p.exists():
        raise ModelNotAvailableError(f"ONNX model not found: {p}")
    so = ort.SessionOptions()
    so.intra_op_num_threads = max(int(threads), 1)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                   else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    return ort.InferenceSession(str(p), sess_options=so, providers=["CPUExecutionProvider"])


class OnnxRegressor:
    """Runs a 62-parameter regressor: ``(N, 3, 120, 120)`` float32 -> ``(N, 62)`` whitened output."""

    def __init__(self, path: str | Path, threads: int = 1):
        self.session = make_session(path, threads)
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] == 0:
            return np.zeros((0, 62), np.float32)
        return self.session.run(None, {self.input_name: np.ascontiguousarray(x, np.float32)})[0]
