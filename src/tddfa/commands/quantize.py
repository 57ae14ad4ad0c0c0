"""``tddfa quantize MODEL -o OUT.onnx``: an INT8 copy of a regressor for CPUs (needs the ``onnx`` package);
``tddfa quantize --detector [PTH] -o OUT.onnx``: the same for the FaceBoxes detector (needs torch too).

Static quantization with the recipe of :func:`tddfa.export.quantize.quantize_for_cpu`, calibrated on the 300W
**train** split; writes ``OUT.onnx`` and ``OUT.json`` (the model's settings, so ``--model OUT.onnx`` loads it).
The shipped ``tddfa_mb1_mb05_int8`` was made with::

    tddfa quantize tddfa_mb1_mb05 --pack ../shared/data/300w -o src/tddfa/models/tddfa_mb1_mb05_int8.onnx

and the shipped ``faceboxes_int8`` (calibrated on training mosaics of 300W train faces, never AFW) with::

    tddfa quantize --detector --pack ../shared/data/300w -o src/tddfa/models/faceboxes_int8.onnx
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from ..errors import InputError, ModelNotAvailableError, require


def _run_detector(args: argparse.Namespace, out: Path) -> int:
    from ..export.quantize import quantize_detector
    from ..runtime.registry import CHECKPOINTS_DIR, MODELS_DIR

    pth = CHECKPOINTS_DIR / "faceboxes.pth" if args.detector == "default" else Path(args.detector)
    if pth.suffix != ".pth" or not pth.exists():
        raise InputError(f"{pth}: give a FaceBoxes .pth checkpoint (or 'default'); the INT8 graph is exported from it")
    if out.resolve() in (pth.with_suffix(".onnx").resolve(), (MODELS_DIR / f"{pth.stem}.onnx").resolve()):
        raise InputError(f"{out}: would overwrite the detector's own ONNX")
    for module in ("onnx", "torch"):
        require(module, "quantizing the detector needs torch and onnx: pip install 'tddfa[train]'")
    out.parent.mkdir(parents=True, exist_ok=True)
    quantize_detector(pth, out, args.pack)
    src_json = pth.with_suffix(".json")
    if not src_json.exists():  # a checkpoint in checkpoints/: its settings are those of the shipped model
        src_json = MODELS_DIR / f"{pth.stem}.json"
    cfg = json.loads(src_json.read_text()) if src_json.exists() else {}
    keep = ("score_threshold", "nms_threshold", "max_height", "max_width", "input", "box_voting", "flip")
    cfg = {k: cfg[k] for k in keep if k in cfg}
    cfg.update(name=out.stem, arch="faceboxes (pooling branches as 3x3 convolutions)",
               card=f"INT8 copy of {pth.name} (static, calibrated on 24 training mosaics of 300W train faces; first "
                    "convolution in float); see docs/models.md",
               quantized_from={"model": pth.name, "sha256": hashlib.sha256(pth.read_bytes()).hexdigest()})
    out.with_suffix(".json").write_text(json.dumps(cfg, indent=1))
    print(f"wrote {out} and {out.with_suffix('.json')} (INT8 of {pth})")
    return 0


def _run(args: argparse.Namespace) -> int:
    from ..export.quantize import quantize_for_cpu

    out = Path(args.output)
    if out.suffix != ".onnx":
        raise InputError(f"{out}: the output must be a .onnx file")
    if args.detector is not None:
        if args.model is not None:
            raise InputError("give either a regressor MODEL or --detector, not both")
        return _run_detector(args, out)
    if args.model is None:
        raise InputError("give a regressor MODEL to quantize, or --detector")
    from ..runtime.registry import resolve_regressor

    spec = resolve_regressor(args.model)
    if out.resolve() == Path(spec.onnx).resolve():
        raise InputError(f"{out}: would overwrite the model it quantizes")
    require("onnx", "quantization needs the onnx package: pip install 'tddfa[train]'")
    out.parent.mkdir(parents=True, exist_ok=True)
    quantize_for_cpu(spec.onnx, out, args.pack, step=args.calib_step)
    src_json = Path(spec.onnx).with_suffix(".json")
    cfg = json.loads(src_json.read_text()) if src_json.exists() else {
        "arch": spec.arch, "input_size": spec.input_size, "param_mean": spec.param_mean.tolist(),
        "param_std": spec.param_std.tolist(), "face_model": spec.face_model, "roi_box_scale": spec.roi_box_scale,
        "verify_threshold": spec.verify_threshold}
    digest = hashlib.sha256(Path(spec.onnx).read_bytes()).hexdigest()
    cfg.update(name=out.stem, card=f"INT8 copy of {spec.name} (static, calibrated on every {args.calib_step}th 300W "
                                    "train crop; first convolution and final layers in float); see docs/models.md",
               quantized_from={"model": spec.name, "sha256": digest})
    out.with_suffix(".json").write_text(json.dumps(cfg, indent=1))
    print(f"wrote {out} and {out.with_suffix('.json')} (INT8 of {spec.name})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quantize", help="INT8 copy of a regressor or of the detector for CPUs (static, calibrated "
                                        "on 300W train)")
    p.add_argument("model", nargs="?", help="regressor: shipped name, .onnx with its .json, or .pth")
    p.add_argument("--detector", nargs="?", const="default", metavar="PTH",
                   help="quantize a FaceBoxes detector instead (default: checkpoints/faceboxes.pth of a source checkout)")
    p.add_argument("--pack", required=True, metavar="DIR_300W", help="the 300W pack (its train split calibrates)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.onnx")
    p.add_argument("--calib-step", type=int, default=10, help="use every n-th train crop (default 10: 202 crops)")
    p.set_defaults(func=_run)
