"""``tddfa image IMAGE... [-o KIND...] [--out DIR]`` (also plain ``tddfa IMAGE...``): align every face
and write the requested outputs.

Contract: for each input image, ``DIR/<stem>_<kind>.<ext>`` per kind (``.jpg`` overlays, ``.png`` maps,
``.ply``, ``.obj`` + ``.mtl`` + ``.png`` texture, ``.glb``, ``.npy``) and ``DIR/<stem>.json`` for ``json``.
``--out`` defaults to ``./tddfa_out`` in the working directory. One line per image on stdout on success;
a one-line message on stderr per image that fails (missing, not an image, empty, no face), processing
goes on; a run of several inputs ends with ``N ok, M failed, 0 skipped, F faces, X items/s`` on stderr (the
summary line of ``tddfa batch``). The exit code is 0 when every input succeeded, else the code of the first
failure (docs/errors.md).

Checked before any file is written: option values, output kinds and the extras they need, that the output
folder takes files, and that no two inputs would write the same output file (two inputs with one stem, say
``a/x.jpg`` and ``b/x.png``, are refused with a message: run them with different ``--out``).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ..errors import InputError, NoFaceError, TddfaError, UsageError
from ..batch.progress import summary_line
from ..io.images import IMAGE_SUFFIXES, read_image
from ..io.writers import (ALL_KINDS, check_extras, check_kinds, planned_paths, prepare_out_dir, require_dense_kinds,
                          write_outputs)
from .options import add_model_options, build_aligner, count

DEFAULT_KINDS = ["composite", "json"]
DEFAULT_OUT = "tddfa_out"
def add_aligner_options(p: argparse.ArgumentParser) -> None:
    """The model, detector and speed options of ``image``, which :func:`_make_aligner` reads (``batch`` shares
    them; :func:`aligner_option_names`)."""
    add_model_options(p, det_size_help="default 416x416 (docs/models.md)", refine=True,
                      crops_help="crops per face: 1 (default, fastest) or 3 (the mean of the ROI and two shifted "
                                 "copies: steadier and slightly more accurate on our validation; the video default)")
    p.add_argument("--face-model", choices=["auto", "bfm"], default="auto",
                   help="'bfm': pair the regressor with the dense BFM face model (for dense outputs with a "
                        "68-keypoint reference model; its shape then matches only approximately)")
    p.add_argument("--det-flip", action="store_true",
                   help="also detect on the mirrored image and pool both, with box voting (finds more faces and more "
                        "false ones; twice the detector time; docs/benchmarks.md)")
    p.add_argument("--max-faces", type=count(1), default=None, metavar="N", help="keep the N largest faces")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "image", help="align faces in images and write overlays, maps, meshes and JSON",
        description="Align every face in the given images (and image folders) and write the outputs. "
                    f"Kinds: {', '.join(ALL_KINDS)}.")
    # nargs="*": `-o KIND... IMAGE` (the flag first) hands the images to -o; run() takes them back
    p.add_argument("inputs", nargs="*", metavar="IMAGE", help="image files or folders of images")
    p.add_argument("-o", "--output", dest="kinds", nargs="+", default=None, metavar="KIND",
                   help=f"what to write (default: {' '.join(DEFAULT_KINDS)}); any of: {' '.join(ALL_KINDS)}")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                   help=f"output folder (default: ./{DEFAULT_OUT} in the working directory)")
    add_aligner_options(p)
    p.add_argument("--dense", action="store_true", help="also write each face's dense vertices in the JSON")
    p.add_argument("--onnx", action="store_true", help="accepted for compatibility: inference always uses ONNX Runtime")
    p.add_argument("--show", action="store_true", help="also display the first image output (needs a display)")
    p.set_defaults(func=run)


def aligner_option_names() -> tuple[str, ...]:
    """The ``argparse`` names of :func:`add_aligner_options` (``batch`` hands only these to its workers)."""
    p = argparse.ArgumentParser(add_help=False)
    add_aligner_options(p)
    return tuple(vars(p.parse_args([])))


def _expand(inputs: list[str]) -> tuple[list[Path], list[InputError]]:
    """Files as given (missing ones too: they fail with a message later), folders expanded, each file once;
    and one error per folder without images."""
    out: dict[Path, Path] = {}
    empty: list[InputError] = []
    for s in inputs:
        p = Path(s)
        if p.is_dir():
            try:
                found = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES)
            except OSError as exc:
                empty.append(InputError(f"{p}: cannot list this folder ({exc.strerror})"))
                continue
            if not found:
                empty.append(InputError(f"{p}: no images in this folder"))
        else:
            found = [p]
        for q in found:
            out.setdefault(q.resolve(), q)
    return list(out.values()), empty


def split_kinds(kinds: list[str] | None, inputs: list[str]) -> tuple[list[str], list[str]]:
    """``-o`` values and positional inputs, with any image paths that ``-o KIND...`` swallowed (the flag given
    before the images) moved back to the inputs. A value is a path when it is no kind and exists or has an
    image suffix or a folder separator; anything else stays a kind (an unknown one is then reported)."""
    if not kinds:
        return [], list(inputs)
    keep, moved = [], []
    for k in kinds:
        if k not in ALL_KINDS and (Path(k).exists() or Path(k).suffix.lower() in IMAGE_SUFFIXES or os.sep in k):
            moved.append(k)
        else:
            keep.append(k)
    return keep, moved + list(inputs)


def check_collisions(paths: list[Path], kinds: list[str], out_dir: Path) -> None:
    """No two inputs write one file, and no output overwrites an input: :class:`UsageError` naming both."""
    owner: dict[Path, Path] = {p.resolve(): p for p in paths}
    for p in paths:
        for f in planned_paths(kinds, out_dir, p.stem):
            other = owner.setdefault(f.resolve(), p)
            if other is not p:
                what = "is an input" if other.resolve() == f.resolve() else f"and {other} would both write it"
                raise UsageError(f"{p}: its output {f} {what}; outputs never overwrite each other: rename one, "
                                 "or run them with different --out folders")


def _make_aligner(args: argparse.Namespace):
    face_model = None
    if args.face_model == "bfm":
        from ..facemodel import load_bfm

        face_model = load_bfm()
    return build_aligner(args, max_faces=args.max_faces, face_model=face_model)


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
    kinds, inputs = split_kinds(args.kinds, args.inputs)
    if not inputs:
        raise UsageError("the following arguments are required: IMAGE (see 'tddfa image --help')")
    kinds = list(dict.fromkeys(kinds or DEFAULT_KINDS))
    check_kinds(kinds)
    check_extras(kinds)
    paths, failed = _expand(inputs)
    if not paths:
        if len(failed) == 1:
            raise failed[0]
        for exc in failed:
            print(f"tddfa: {exc}", file=sys.stderr)
        print(summary_line(0, len(failed), 0, 0, 0.0), file=sys.stderr)
        return failed[0].exit_code
    out_dir = Path(args.out)
    check_collisions(paths, kinds, out_dir)
    prepare_out_dir(out_dir, hint=" (--out names the output folder)")
    aligner = _make_aligner(args)
    model = aligner.face_model
    require_dense_kinds(kinds, model)
    shown = False

    from tqdm import tqdm

    n_ok, n_faces, codes, start = 0, 0, [], time.perf_counter()
    for exc in failed:
        tqdm.write(f"tddfa: {exc}", file=sys.stderr)
        codes.append(exc.exit_code)
    # tqdm.write keeps the bar and the lines apart; disable=None: a bar only on a terminal
    bar = tqdm(paths, unit="img", disable=True if len(paths) < 2 else None, file=sys.stderr, leave=False)
    for path in bar:
        t0 = time.perf_counter()
        try:
            img = read_image(path)
            faces = aligner(img)
            if not faces:
                raise NoFaceError(f"{path}: no face found")
            files = write_outputs(kinds, img, faces, model, out_dir, path.stem, image_name=path.name,
                                  dense_json=args.dense, input_size=aligner.spec.input_size)
        except Exception as exc:  # noqa: BLE001 - one input's failure is one line; the run goes on
            if getattr(args, "debug", False) and not isinstance(exc, TddfaError):
                raise
            from ..cli import error_line, exit_code

            codes.append(exit_code(exc))
            msg = error_line(exc)
            tqdm.write(f"tddfa: {msg if str(path) in msg else f'{path}: {msg}'}", file=sys.stderr)
            continue
        n_ok += 1
        n_faces += len(faces)
        ms = (time.perf_counter() - t0) * 1e3
        names = ", ".join(f.name for f in files)
        tqdm.write(f"{path}: {len(faces)} face{'s' if len(faces) != 1 else ''} -> {out_dir}/ {names} ({ms:.0f} ms)")
        if args.show and not shown:
            shown = True
            images = [f for f in files if f.suffix in (".jpg", ".png")]
            if images:
                _show(images[0])
    bar.close()
    if len(paths) + len(failed) > 1:
        rate = len(paths) / max(time.perf_counter() - start, 1e-9)
        print(summary_line(n_ok, len(codes), 0, n_faces, rate), file=sys.stderr)
    return codes[0] if codes else 0
