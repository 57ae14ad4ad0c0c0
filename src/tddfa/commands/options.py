"""What the commands share: argparse ``type=`` checks (a bad value is a one-line usage error, exit code 2, before any
work starts, naming the option and the range) and the model options that build a :class:`tddfa.FaceAligner` the
same way for ``image``, ``video``, ``webcam``, ``serve`` and ``eval``."""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from ..io.datasets import DATA_ENV
from ..io.datasets import data_pack as data_default

# --reference DIR means one thing in every command: 3DDFA_V2's own checkpoints in DIR (converted to ONNX once)
REFERENCE_DIR_HELP = ("3DDFA_V2's own checkpoints in DIR (mb05_120x120.pth, FaceBoxesProd.pth; needs torch the "
                      "first time)")
REFERENCE_HELP = f"{REFERENCE_DIR_HELP}: they stand in for whichever of --model and --detector is not given"
MODEL_HELP = "regressor: 'default', a shipped name (tddfa models list), a .onnx/.pth file or 'reference:DIR'"
DETECTOR_HELP = ("face detector: 'default' (RetinaFace), a shipped name (tddfa models list), 'haar' (OpenCV's cascade, "
                 "frontal faces only), 'reference:DIR' or a .onnx/.pth file")
DET_SIZE_DEFAULT = "default: the detector's own (docs/models.md)"
FAST_HELP = ("the fastest shipped setting: --model tddfa_mb05_int8 --refine 0 --no-flip with the default "
             "detector (slightly less accurate, docs/models.md)")


def add_no_flip(p) -> None:
    """``--no-flip`` (``args.flip``: ``False``, else ``None`` for :class:`tddfa.FaceAligner`'s default: the mirrored
    crop with one crop per face, none with three or for 3DDFA_V2's weights)."""
    p.add_argument("--no-flip", dest="flip", action="store_const", const=False, default=None,
                   help="regress each crop once, not also mirrored (faster, less accurate; the mirrored crop is on by "
                        "default with one crop per face, off for 3DDFA_V2's weights)")


def count(low: int) -> Callable[[str], int]:
    """A whole number >= ``low``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    parse.__name__ = f"whole number >= {low}"
    return parse


def real(low: float, strict: bool = False) -> Callable[[str], float]:
    """A finite number >= ``low`` (> ``low`` with ``strict``)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {low:g}, got {text}")
        return value

    parse.__name__ = f"number {'>' if strict else '>='} {low:g}"
    return parse


def size(text: str) -> tuple[int, int]:
    """``WxH`` -> ``(W, H)`` (:func:`tddfa.detect.parse_input_size`)."""
    from ..detect import parse_input_size

    try:
        return parse_input_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


size.__name__ = "WxH"


def add_model_options(p: argparse.ArgumentParser, *, crops: int = 1, crops_help: str = "",
                      det_size_help: str = "", refine: bool = False, threads_type: Callable = count(1)) -> None:
    """``--model``, ``--detector``, ``--reference``, ``--fast``, ``--det-size``, ``--threads``, ``--crops`` and
    ``--no-flip`` (and
    ``--refine`` with ``refine``) in a ``model`` group; :func:`build_aligner` reads them."""
    g = p.add_argument_group("model")
    g.add_argument("--model", default=None, metavar="SPEC", help=f"{MODEL_HELP} (default: 'default')")
    g.add_argument("--detector", default=None, metavar="SPEC", help=f"{DETECTOR_HELP} (default: 'default')")
    g.add_argument("--reference", metavar="DIR", help=REFERENCE_HELP)
    g.add_argument("--fast", action="store_true", help=FAST_HELP)
    g.add_argument("--det-size", type=size, default=None, metavar="WxH",
                   help="largest detector input (images are only shrunk to fit): smaller is faster but misses small "
                        f"faces; {det_size_help or DET_SIZE_DEFAULT}")
    g.add_argument("--threads", type=threads_type, default=1, metavar="N", help="ONNX Runtime threads (default 1)")
    g.add_argument("--crops", type=int, choices=(1, 3), default=crops,
                   help=crops_help or f"crops per face: 1 (fastest) or 3 (the mean of the ROI and two shifted copies: "
                                      f"steadier and slightly more accurate); default {crops}")
    add_no_flip(g)
    if refine:
        g.add_argument("--refine", type=count(0), default=None, metavar="N",
                       help="re-crop each face from its own landmarks N times (default 1; 0 for 3DDFA_V2 weights, its "
                            "own protocol): one more regression per face and pass; see docs/models.md")


def add_data_option(p: argparse.ArgumentParser, flag: str, pack: str, what: str) -> None:
    """A data-pack folder option, ``$TDDFA_DATA/<pack>`` by default and required without the variable."""
    default = data_default(pack)
    p.add_argument(flag, default=default, required=default is None, metavar="DIR",
                   help=f"{what} (default: ${DATA_ENV}{'/' + pack if pack else ''} when {DATA_ENV} is set)")


def build_aligner(args: argparse.Namespace, **kw):
    """The :class:`tddfa.FaceAligner` of the model options (:func:`tddfa.api.choose_models`), its detector loaded
    now (a missing model is one error, not one per input). ``kw``: further constructor arguments."""
    from .. import api
    from ..runtime import registry

    chosen = api.choose_models(args.model, args.detector, args.reference, getattr(args, "fast", False),
                               getattr(args, "refine", None), flip=getattr(args, "flip", None))
    det_size, flip = getattr(args, "det_size", None), getattr(args, "det_flip", False)
    if det_size is not None or flip:
        chosen["detector"] = registry.load_detector(chosen["detector"], threads=args.threads, size=det_size, flip=flip)
    aligner = api.FaceAligner(threads=args.threads, crops=args.crops, **chosen, **kw)
    aligner.detector  # noqa: B018 - load it now
    return aligner
