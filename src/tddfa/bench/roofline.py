"""Compute floors: how fast a network could run here at all, to read the measured times against.

A network's cost is its multiply-accumulates (MACs) at a given input shape, counted from the ONNX graph.
The machine's FP32 ceiling is measured as the best throughput of a square float32 matrix product
(numpy's BLAS) in the same process, under the same thread limits. ``MACs / ceiling`` is then the time the
network would need if every layer ran as fast as a large GEMM: a floor no FP32 engine beats on this CPU.
"""
from __future__ import annotations

import time
from math import prod
from pathlib import Path

import numpy as np


def gemm_peak_gmacs(n: int = 512, repeats: int = 20) -> float:
    """Best FP32 throughput (GMAC/s) of an ``(n, n) @ (n, n)`` product over ``repeats`` calls."""
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    c = np.empty_like(a)
    for _ in range(3):
        np.matmul(a, b, out=c)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t)
    return n ** 3 / best / 1e9


def network_macs(onnx_path: str | Path, input_shape: tuple[int, ...]) -> int | None:
    """Multiply-accumulates of one call of the ONNX model at ``input_shape`` (Conv, Gemm and MatMul nodes).

    Returns ``None`` when the ``onnx`` package is missing (it is in the ``train`` extra) or a shape cannot
    be inferred. Quantized (QDQ) graphs are counted like FP32 ones: their weights sit behind
    DequantizeLinear nodes, whose output shapes are inferred too.
    """
    try:
        import onnx
        from onnx import shape_inference
    except ImportError:
        return None
    model = onnx.load(str(onnx_path))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if len(dims) != len(input_shape):
        raise ValueError(f"{onnx_path}: input has {len(dims)} dims, got shape {input_shape}")
    for d, v in zip(dims, input_shape):
        d.ClearField("dim_param")
        d.dim_value = int(v)
    model = shape_inference.infer_shapes(model)
    shapes = {i.name: list(i.dims) for i in model.graph.initializer}
    for vi in [*model.graph.input, *model.graph.value_info, *model.graph.output]:
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    total = 0
    for node in model.graph.node:
        if node.op_type not in ("Conv", "Gemm", "MatMul"):
            continue
        out, w = shapes.get(node.output[0]), shapes.get(node.input[1])
        if not out or not w or 0 in out or 0 in w:
            return None
        if node.op_type == "Conv":  # weight (Cout, Cin / groups, kh, kw): each output sums Cin/g*kh*kw products
            total += prod(out) * prod(w[1:])
        else:
            trans_b = any(a.name == "transB" and a.i for a in node.attribute)
            total += prod(out) * (w[1] if trans_b else w[0])
    return int(total)


def floor_ms(macs: int | None, gmacs: float | None) -> float | None:
    """Time (ms) of ``macs`` at ``gmacs`` GMAC/s; ``None`` if either is unknown."""
    if not macs or not gmacs:
        return None
    return macs / (gmacs * 1e9) * 1e3
