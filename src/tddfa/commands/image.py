"""``tddfa image IMAGE... [-o KIND...] [--out DIR]`` (also plain ``tddfa IMAGE...``): align every face
and write the requested outputs.

Contract: for each input image, ``DIR/<stem>_<kind>.<ext>`` per kind (``.jpg`` overlays, ``.png`` maps,
``.ply``, ``.obj`` + ``.mtl`` + ``.png`` texture, ``.glb``, ``.npy``) and ``DIR/<stem>.json`` for ``json``.
``--out`` defaults to ``./tddfa_out`` in the working directory. One line per image on stdout on success;
a one-line message on stderr per image that fails (missing, not an image, empty, no face), processing
goes on, and the exit code is non-zero only if no image succeeded.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ..errors import InputError, NoFaceError, TddfaError
from ..eval.detection import parse_size
from ..io.export import ALL_KINDS, MESH_KINDS, write_outputs
from ..io.images import IMAGE_SUFFIXES, read_image
from ..render.outputs import DENSE_KINDS

DEFAULT_KINDS = ["composite", "json"]
DEFAULT_OUT = "tddfa_out"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "image", help="align faces in images and write overlays, maps, meshes and JSON",
        description="Align every face in the given images (and image folders) and write the outputs. "
                    f"Kinds: {', '.join(ALL_KINDS)}.")
    p.add_argument("inputs", nargs="+", metavar="IMAGE", help="image files or folders of images")
    p.add_argument("-o", "--output", dest="kinds", nargs="+", default=None, metavar="KIND",
                   help=f"what to write (default: {' '.join(DEFAULT_KINDS)}); any of: {' '.join(ALL_KINDS)}")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                   help=f"output folder (default: ./{DEFAULT_OUT} in the working directory)")
    p.add_argument("--model", default="default", metavar="SPEC",
                   help="regressor: 'default', a shipped name, a .onnx/.pth file or 'reference:DIR'")
    p.add_argument("--detector", default="default", metavar="SPEC",
                   help="face detector: 'default', a shipped name ('faceboxes_int8': the INT8 copy, faster on CPUs "
                        "with VNNI), 'reference:DIR' or a .onnx/.pth file")
    p.add_argument("--reference", metavar="DIR",
                   help="use 3DDFA_V2's own checkpoints in DIR (same as --model reference:DIR "
                        "--detector reference:DIR; needs torch the first time)")
    p.add_argument("--face-model", choices=["auto", "bfm"], default="auto",
                   help="'bfm': pair the regressor with the dense BFM face model (for dense outputs with a "
                        "68-keypoint reference model; its shape then matches only approximately)")
    p.add_argument("--det-size", type=parse_size, default=None, metavar="WxH",
                   help="largest detector input (images are only shrunk to fit): smaller is faster but misses "
                        "small faces; default 1080x720 (see README, detector input size)")
    p.add_argument("--det-flip", action="store_true",
                   help="also detect on the mirrored image and pool both, with box voting (finds more faces and more "
                        "false ones: AFW recall 97.03 -> 98.22 %%; twice the detector time; see README)")
    p.add_argument("--threads", type=int, default=1, metavar="N", help="ONNX Runtime threads (default 1)")
    p.add_argument("--refine", type=int, default=None, metavar="N",
                   help="re-crop each face from its own landmarks N times (default 1; 0 for 3DDFA_V2 weights, its own "
                        "protocol): one more regression per face and pass; see MODELS.md")
    p.add_argument("--fast", action="store_true",
                   help="the fastest shipped setting: --model tddfa_mb05_int8 --detector faceboxes_int8 --refine 0 "
                        "(INT8: fastest on CPUs with VNNI; slightly less accurate, see README)")
    p.add_argument("--crops", type=int, choices=(1, 3), default=1,
                   help="crops per face: 1 (default, fastest) or 3 (the mean of the ROI and two shifted copies: "
                        "steadier and slightly more accurate on our validation; the video default)")
    p.add_argument("--dense", action="store_true", help="also write each face's dense vertices in the JSON")
    p.add_argument("--max-faces", type=int, default=None, metavar="N", help="keep the N largest faces")
    p.add_argument("--onnx", action="store_true", help="accepted for compatibility: inference always uses ONNX Runtime")
    p.add_argument("--show", action="store_true", help="also display the first image output (needs a display)")
    p.set_defaults(func=run)


def _expand(inputs: list[str]) -> tuple[list[Path], bool]:
    """Files as given (missing ones too: they fail with a message later), folders expanded."""
    out: list[Path] = []
    folder = False
    for s in inputs:
        p = Path(s)
        if p.is_dir():
            folder = True
            found = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                print(f"tddfa: {p}: no images in this folder", file=sys.stderr)
            out += found
        else:
            out.append(p)
    return out, folder


def detector_with_size(spec, size: tuple[int, int] | None, threads: int, flip: bool = False):
    """``spec`` unchanged, or loaded now with its input capped at ``size`` (W, H) and/or with mirrored
    test-time pooling and box voting (``flip``)."""
    if (size is None and not flip) or callable(spec):
        return spec
    from ..detect import InputPolicy, load_detector

    kw = {"policy": InputPolicy.from_size(size)} if size is not None else {}
    if flip:
        kw.update(flip=True, box_voting=True)  # measured together (README): voting places the pooled boxes
    return load_detector(spec or "default", threads=threads, **kw)


def _make_aligner(args: argparse.Namespace):
    from ..api import FaceAligner
    from ..eval.common import refine_for

    model, detector = args.model, args.detector
    if getattr(args, "fast", False):
        from ..api import FAST

        if model != "default" or detector != "default" or args.refine is not None or args.reference:
            raise InputError("--fast sets --model, --detector and --refine itself: give either --fast or those")
        model, detector, args.refine = FAST["model"], FAST["detector"], FAST["refine"]
    if args.reference:
        ref = Path(args.reference)
        if not ref.is_dir():
            raise InputError(f"--reference {ref}: not a directory")
        model, detector = f"reference:{ref}", f"reference:{ref}"
    face_model = None
    if args.face_model == "bfm":
        from ..facemodel import load_bfm

        face_model = load_bfm()
    detector = detector_with_size(detector, args.det_size, args.threads, flip=args.det_flip)
    aligner = FaceAligner(model=model, detector=detector, threads=args.threads, max_faces=args.max_faces,
                          face_model=face_model, crops=args.crops, refine=refine_for(model, args))
    aligner.detector  # load it now: a missing detector is one error, not one per image
    return aligner


def _show(path: Path) -> None:
    import cv2

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print("tddfa: --show: no display; outputs were written to disk", file=sys.stderr)
        return
    try:
        cv2.imshow("tddfa", cv2.imread(str(path)))
        cv2.waitKey(0)
        cv2.destroyAllWindows()
    except cv2.error:
        print("tddfa: --show: this OpenCV has no GUI (opencv-python-headless); outputs were written to disk",
              file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    kinds = list(dict.fromkeys(args.kinds or DEFAULT_KINDS))
    bad = [k for k in kinds if k not in ALL_KINDS]
    if bad:
        raise InputError(f"unknown output kind(s) {', '.join(bad)}; choose from {', '.join(ALL_KINDS)}")
    if args.threads < 1 or (args.max_faces is not None and args.max_faces < 1):
        raise InputError("--threads and --max-faces must be at least 1")
    paths, folder = _expand(args.inputs)
    if not paths:
        raise InputError("no input images")
    aligner = _make_aligner(args)
    model = aligner.face_model
    dense = model.triangles.shape[0] > 0
    dense_only = DENSE_KINDS | set(MESH_KINDS) | {"depth16", "depth_raw"}
    if not dense and any(k in dense_only for k in kinds):
        need = ", ".join(k for k in kinds if k in dense_only)
        raise InputError(f"output(s) {need} need a dense face model, but model '{model.name}' has only 68 "
                         "keypoints (add --face-model bfm, or use the default model)")
    out_dir = Path(args.out)
    n_ok, last_error = 0, None
    shown = False

    from tqdm import tqdm

    bar = tqdm(paths, unit="img", disable=not folder or len(paths) < 2, file=sys.stderr, leave=False)
    say = bar.write if not bar.disable else print
    for path in bar:
        t0 = time.perf_counter()
        try:
            img = read_image(path)
            faces = aligner(img)
            if not faces:
                raise NoFaceError(f"{path}: no face found")
            files = write_outputs(kinds, img, faces, model, out_dir, path.stem, image_name=path.name,
                                  dense_json=args.dense, input_size=aligner.spec.input_size)
        except TddfaError as exc:
            last_error = exc
            msg = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
            if bar.disable:
                print(f"tddfa: {msg}", file=sys.stderr)
            else:
                bar.write(f"tddfa: {msg}", file=sys.stderr)
            continue
        n_ok += 1
        ms = (time.perf_counter() - t0) * 1e3
        names = ", ".join(f.name for f in files)
        say(f"{path}: {len(faces)} face{'s' if len(faces) != 1 else ''} -> {out_dir}/ {names} ({ms:.0f} ms)")
        if args.show and not shown:
            shown = True
            images = [f for f in files if f.suffix in (".jpg", ".png")]
            if images:
                _show(images[0])
    bar.close()
    if n_ok == 0:
        return last_error.exit_code if last_error is not None else 1
    return 0
