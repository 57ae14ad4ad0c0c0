"""Best integer GEMM throughput of ONNX Runtime on this CPU (MatMulInteger u8 x s8 -> int32), 1 and 2 threads,
next to the float32 GEMM ceiling in the same process: the fastest any INT8 network could run here.

    python benchmarks/int8_ceiling.py
"""
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def model(n: int, k: int, m: int, integer: bool) -> bytes:
    if integer:
        A = helper.make_tensor_value_info("A", TensorProto.UINT8, [n, k])
        B = numpy_helper.from_array(np.random.default_rng(0).integers(-127, 127, (k, m)).astype(np.int8), "B")
        Y = helper.make_tensor_value_info("Y", TensorProto.INT32, [n, m])
        node = helper.make_node("MatMulInteger", ["A", "B"], ["Y"])
    else:
        A = helper.make_tensor_value_info("A", TensorProto.FLOAT, [n, k])
        B = numpy_helper.from_array(np.random.default_rng(0).standard_normal((k, m)).astype(np.float32), "B")
        Y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [n, m])
        node = helper.make_node("MatMul", ["A", "B"], ["Y"])
    g = helper.make_graph([node], "g", [A], [Y], [B])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


for threads in (1, 2):
    so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
    for integer in (False, True):
        best = 0
        for n, k, m in ((512, 512, 512), (1024, 1024, 1024), (3600, 288, 64), (900, 576, 128)):
            s = ort.InferenceSession(model(n, k, m, integer), so, providers=["CPUExecutionProvider"])
            a = (np.random.default_rng(1).integers(0, 255, (n, k)).astype(np.uint8) if integer
                 else np.random.default_rng(1).standard_normal((n, k)).astype(np.float32))
            for _ in range(3): s.run(None, {"A": a})
            ts = []
            for _ in range(30):
                t = time.perf_counter(); s.run(None, {"A": a}); ts.append(time.perf_counter() - t)
            g = n * k * m / np.min(ts) / 1e9
            best = max(best, g)
            print(f"threads {threads} {'u8s8' if integer else 'fp32'} {n}x{k}x{m}: {g:.1f} GMAC/s")
        print(f"== threads {threads} {'u8s8' if integer else 'fp32'} best {best:.1f} GMAC/s")
