"""INT8 static quantization with ONNX Runtime's tools, calibrated on 300W training crops (regressors) or
training mosaics of them (the detector).

Calibration crops are cut as at run time (ROI from the 68 given landmarks, 120x120, ``(x - 127.5) / 128``)
from the **train** split only; accuracy is then measured on the test split (see ``benchmarks/speedups.py``).
Needs the ``onnx`` package (``pip install 'tddfa[train]'``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..geometry.crop import INPUT_SIZE


def pack_crops(pack_dir: str | Path, split: str = "train", limit: int | None = None, step: int = 1,
               size: int = INPUT_SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 crops ``(N, size, size, 3)``, their ROIs ``(N, 4)`` and landmarks ``(N, 68, 2)`` (image frame) of a
    300W pack split (``../shared/data/300w``)."""
    import cv2

    from ..geometry import crop_faces, roi_from_landmarks

    pack = Path(pack_dir)
    if not (pack / "annotations.npz").exists():
        raise InputError(f"no 300W pack at {pack} (annotations.npz missing)")
    ann = np.load(pack / "annotations.npz")
    idx = np.flatnonzero(ann["split"] == split)[::step][:limit]
    crops, rois = [], []
    for i in idx:
        img = cv2.imread(str(pack / "images" / f"{ann['names'][i]}.jpg"))
        if img is None:
            raise InputError(f"cannot read {ann['names'][i]}.jpg in {pack / 'images'}")
        roi = roi_from_landmarks(ann["pts68"][i][None])
        crops.append(crop_faces(img, roi, size)[0])
        rois.append(roi[0])
    return np.stack(crops), np.stack(rois), ann["pts68"][idx].astype(np.float64)


# part of the cache key of quantized files: bump it when the recipe below changes
RECIPE = "q3"
NETWORK_OPS = ("Conv", "Gemm", "MatMul", "Relu", "Clip", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten",
               "Reshape")


def float_ends(onnx_path: str | Path) -> tuple[str, ...]:
    """Nodes that INT8 leaves in float: each network's first convolution (it reads the image) and its final
    fully connected layers. Chosen on the validation split (300W test, landmark ROIs), default model: NME
    change +0.019 with everything quantized, -0.006 with these kept float, at the same speed (a 3-channel
    convolution and a 62-output layer are under 3 % of the work; mb05 even gets faster, 1.46 -> 0.90 ms, as the
    integer kernels handle a 3-channel input poorly)."""
    import onnx

    g = onnx.load(str(onnx_path)).graph
    inp = g.input[0].name
    return tuple(n.name for n in g.node if (n.op_type == "Conv" and n.input[0] == inp) or n.op_type == "Gemm")


def quantize_for_cpu(fp32_onnx: str | Path, out: str | Path, pack_dir: str | Path, step: int = 10) -> Path:
    """The INT8 recipe of the shipped ``*_int8`` models and of ``tddfa bench --int8``: static, per-channel 7-bit
    weights (reduce_range: AVX2's u8 x s8 products saturate with full 8-bit weights), MinMax ranges from every
    ``step``-th 300W **train** crop, QDQ format, :func:`float_ends` kept in float."""
    from ..geometry import normalize

    calib = normalize(pack_crops(pack_dir, "train", step=step)[0])
    return quantize_regressor(fp32_onnx, out, calib, per_channel=True, reduce_range=True, fmt="QDQ",
                              exclude=float_ends(fp32_onnx))


def cache_name(fp32: str | Path, tag: str = "int8") -> str:
    """File name of a quantized copy of ``fp32``: keyed on its content and on :data:`RECIPE`."""
    import hashlib

    digest = hashlib.sha256(Path(fp32).read_bytes()).hexdigest()[:12]
    return f"{Path(fp32).stem}_{digest}_{tag}_{RECIPE}.onnx"


def detector_calibration(pack_dir: str | Path, n: int = 24, size: tuple[int, int] = (1080, 607),
                         seed: int = 123) -> np.ndarray:
    """Detector inputs ``(n, 3, H, W)`` float32 for INT8 calibration: training mosaics of 300W **train** faces
    (never AFW, the detector's test set), resized to the network input of a 720p frame (``size`` = W, H)."""
    import cv2

    from ..detect.faceboxes import to_blob
    from ..train.detector.data import MosaicGenerator, load_300w

    gen = MosaicGenerator(load_300w(pack_dir), size=512, seed=seed)
    return np.stack([to_blob(cv2.resize(gen(i)[0], size))[0] for i in range(n)])


def quantize_detector(pth: str | Path, out: str | Path, pack_dir: str | Path, n: int = 24) -> Path:
    """The INT8 recipe of the shipped ``faceboxes_int8``: FaceBoxes exported with its Inception pooling branches
    folded into 3x3 convolutions (``export_faceboxes_onnx(for_int8=True)``), then static quantization as for the
    regressors (per-channel 7-bit weights, QDQ, the first convolution in float) with MinMax ranges from ``n``
    training mosaics of 300W **train** faces at the network input of a 720p frame. Needs torch (the export)."""
    from ..nets.faceboxes import export_faceboxes_onnx, load_faceboxes

    out = Path(out)
    folded = out.with_name(out.stem + ".fold.onnx")
    export_faceboxes_onnx(load_faceboxes(pth), folded, for_int8=True)
    try:
        quantize_regressor(folded, out, detector_calibration(pack_dir, n=n), per_channel=True, reduce_range=True,
                           exclude=float_ends(folded))
    finally:
        folded.unlink(missing_ok=True)
    return out


class _Reader:
    """``CalibrationDataReader`` over a float32 batch, one crop per call."""

    def __init__(self, x: np.ndarray, input_name: str):
        self.x, self.name, self.i = x, input_name, 0

    def get_next(self):
        if self.i >= len(self.x):
            return None
        self.i += 1
        return {self.name: self.x[self.i - 1:self.i]}

    def rewind(self) -> None:
        self.i = 0


def quantize_regressor(fp32_onnx: str | Path, out: str | Path, calib: np.ndarray, *, per_channel: bool = True,
                       fmt: str = "QDQ", reduce_range: bool = False, method: str = "MinMax",
                       weight_type: str = "QInt8", exclude: tuple[str, ...] = ()) -> Path:
    """Static INT8 quantization of ``fp32_onnx`` calibrated on ``calib`` ``(N, 3, H, W)`` float32 inputs;
    nodes named in ``exclude`` stay float."""
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pre = out.with_name(out.stem + ".pre.onnx")
    quant_pre_process(str(fp32_onnx), str(pre), skip_symbolic_shape=True)
    import onnx

    name = onnx.load(str(pre)).graph.input[0].name
    quantize_static(str(pre), str(out), _Reader(np.ascontiguousarray(calib, np.float32), name),
                    quant_format=QuantFormat.QDQ if fmt == "QDQ" else QuantFormat.QOperator,
                    per_channel=per_channel, reduce_range=reduce_range,
                    activation_type=QuantType.QUInt8, weight_type=getattr(QuantType, weight_type),
                    calibrate_method=getattr(CalibrationMethod, method),
                    # the network only: an ensemble's averaging of unwhitened parameters (ranges from 1e-4 to
                    # 1e5 in one tensor) has no useful 8-bit scale and stays float
                    op_types_to_quantize=list(NETWORK_OPS), nodes_to_exclude=list(exclude))
    pre.unlink(missing_ok=True)
    return out
