"""``tddfa export``: a PyTorch network (ours or a 3DDFA_V2 checkpoint) to ONNX with a dynamic batch dimension.

Regressors (``mb1``, ``mb05``, ``mobilenet_v3``, ``resnet22``) get a sibling ``OUT.json`` with their input
spec and 62-d parameter statistics when those are known (our checkpoints carry them; 3DDFA_V2's come from
``--reference DIR``), so ``FaceAligner(model="OUT.onnx")`` and ``tddfa eval aflw2000 --weights OUT.onnx``
load the result. FaceBoxes exports with dynamic batch, height and width. ``--int8 PACK_300W`` also
quantizes a regressor to INT8 (static, calibrated on the 300W train split; see ``docs/benchmarks.md``).

Examples::

    tddfa export --arch mb05 --reference ../shared/data/reference/3ddfa_v2 -o mb05.onnx
    tddfa export --arch faceboxes --reference ../shared/data/reference/3ddfa_v2 -o faceboxes.onnx
    tddfa export --arch mb1 --weights runs/mb1/best.pth -o mb1.onnx --check
    tddfa export --arch mb05 --reference ../shared/data/reference/3ddfa_v2 --int8 ../shared/data/300w -o mb05_int8.onnx
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError
from ..export.network import REGRESSORS, check_export, export_network, load_network, weights_path
from .options import REFERENCE_DIR_HELP

def _run(args: argparse.Namespace) -> int:
    weights = weights_path(args.arch, args.weights, args.reference)
    if weights is None and not args.random_init:
        raise InputError("give --weights FILE.pth or --reference DIR (or --random-init for an untrained network)")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    model, config = load_network(args.arch, weights)
    path, side = export_network(args.arch, out, weights, args.reference, opset=args.opset, model=model,
                                config=config)
    print(f"wrote {path} ({args.arch}, {'weights ' + str(weights) if weights else 'random init'})")
    if side is not None:
        print(f"wrote {path.with_suffix('.json')} (input spec and parameter statistics)")
    elif args.arch != "faceboxes":
        print("note: no parameter statistics known (pass --reference DIR for 3DDFA_V2 weights); no .json written")
    if args.int8:
        if args.arch == "faceboxes":
            raise InputError("--int8 is implemented for the regressors only")
        from ..export.quantize import quantize_for_cpu

        fp32 = path.with_name(path.stem + ".fp32.onnx")
        path.replace(fp32)
        quantize_for_cpu(fp32, path, args.int8, step=args.calib_step)
        print(f"quantized {path} to INT8 (static, calibrated on every {args.calib_step}th 300W train crop); "
              f"FP32 kept as {fp32}")
    if args.check:
        if args.int8:
            print("note: --check compares FP32 only; INT8 differs from torch by design")
            path = path.with_name(path.stem + ".fp32.onnx")
        diff = check_export(args.arch, model, path)
        print(f"ONNX Runtime vs torch: max abs diff {diff:.2e}")
        if diff >= 1e-4:
            return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a network (regressor or FaceBoxes) to ONNX (needs PyTorch)")
    p.add_argument("--arch", required=True, choices=REGRESSORS + ("faceboxes",), help="network architecture")
    p.add_argument("--weights", metavar="FILE.pth", help="checkpoint: ours or 3DDFA_V2's")
    p.add_argument("--reference", metavar="DIR",
                   help=f"{REFERENCE_DIR_HELP}; here: the weights of --arch (and the 62-d parameter statistics) to "
                        "export")
    p.add_argument("--random-init", action="store_true", help="export an untrained network (benchmarks, tests)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.onnx")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--check", action="store_true", help="compare ONNX Runtime with torch on random inputs")
    p.add_argument("--int8", metavar="PACK_300W",
                   help="also quantize to INT8 (static), calibrated on the train split of this 300W pack")
    p.add_argument("--calib-step", type=int, default=10, help="use every n-th train crop for calibration")
    p.set_defaults(func=_run)
