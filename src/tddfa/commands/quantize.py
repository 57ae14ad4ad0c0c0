"""``tddfa quantize MODEL -o OUT.onnx``: an INT8 copy of a regressor for CPUs (needs the ``onnx`` package).

Static quantization with the recipe of :func:`tddfa.bench.quantize.quantize_for_cpu`, calibrated on the 300W
**train** split; writes ``OUT.onnx`` and ``OUT.json`` (the model's settings, so ``--model OUT.onnx`` loads it).
The shipped ``tddfa_mb1_mb05_int8`` was made with::

    tddfa quantize tddfa_mb1_mb05 --pack ../shared/data/300w -o src/tddfa/models/tddfa_mb1_mb05_int8.onnx
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from ..errors import InputError, ModelNotAvailableError


def _run(args: argparse.Namespace) -> int:
    from ..bench.quantize import quantize_for_cpu
    from ..runtime.registry import resolve_regressor

    spec = resolve_regressor(args.model)
    out = Path(args.output)
    if out.suffix != ".onnx":
        raise InputError(f"{out}: the output must be a .onnx file")
    if out.resolve() == Path(spec.onnx).resolve():
        raise InputError(f"{out}: would overwrite the model it quantizes")
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ModelNotAvailableError("quantization needs the onnx package: pip install 'tddfa[train]'") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    quantize_for_cpu(spec.onnx, out, args.pack, step=args.calib_step)
    src_json = Path(spec.onnx).with_suffix(".json")
    cfg = json.loads(src_json.read_text()) if src_json.exists() else {
        "arch": spec.arch, "input_size": spec.input_size, "param_mean": spec.param_mean.tolist(),
        "param_std": spec.param_std.tolist(), "face_model": spec.face_model, "roi_box_scale": spec.roi_box_scale,
        "verify_threshold": spec.verify_threshold}
    digest = hashlib.sha256(Path(spec.onnx).read_bytes()).hexdigest()
    cfg.update(name=out.stem, card=f"INT8 copy of {spec.name} (static, calibrated on every {args.calib_step}th 300W "
                                    "train crop; first convolution and final layers in float); see MODELS.md",
               quantized_from={"model": spec.name, "sha256": digest})
    out.with_suffix(".json").write_text(json.dumps(cfg, indent=1))
    print(f"wrote {out} and {out.with_suffix('.json')} (INT8 of {spec.name})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quantize", help="INT8 copy of a regressor for CPUs (static, calibrated on 300W train)")
    p.add_argument("model", help="regressor: shipped name, .onnx with its .json, or .pth")
    p.add_argument("--pack", required=True, metavar="DIR_300W", help="the 300W pack (its train split calibrates)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.onnx")
    p.add_argument("--calib-step", type=int, default=10, help="use every n-th train crop (default 10: 202 crops)")
    p.set_defaults(func=_run)
