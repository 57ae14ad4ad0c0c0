"""Per-stage speed benchmark (``tddfa bench``): each thread setting runs in its own process.

``runner.run_bench`` resolves the models once, starts one worker process per thread setting plus one for
the baseline (plain FP32 ONNX Runtime sessions with default options), and assembles the table and JSON.
"""
from .timing import measure

__all__ = ["measure"]
