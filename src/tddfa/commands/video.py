"""``tddfa video IN -o OUT``: track, smooth and draw faces through a video file or an image sequence."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import OutputError, UsageError
from ..geometry.consistency import VIDEO_CROPS
from .options import add_model_options, build_aligner, count, real


def add_tracking_args(p: argparse.ArgumentParser) -> None:
    """Model, detector, tracking and smoothing options shared by ``video`` and ``webcam``."""
    add_model_options(p, crops=VIDEO_CROPS, det_size_help="default 1080x720",
                      crops_help="crops per face: 3 (default) averages the ROI and two shifted copies (steadier; the "
                                 "shifted pair is also the tracking check), 1 is faster")
    t = p.add_argument_group("tracking")
    t.add_argument("--detect-every", type=count(0), default=30, metavar="N",
                   help="re-detect every N frames (also on tracking failure and while no face is tracked); 0: never "
                        "on schedule")
    t.add_argument("--max-faces", type=count(1), default=None, help="track at most this many faces")
    t.add_argument("--no-check", action="store_true",
                   help="skip the re-crop failure test (faster; failure is then caught only by landmark/ROI jumps)")
    s = p.add_argument_group("smoothing")
    s.add_argument("--smooth", choices=("one_euro", "window", "none"), default="one_euro",
                   help="one_euro: causal (default); window: offline look-ahead mean; none")
    s.add_argument("--n-pre", type=count(0), default=1, help="window: frames before (default 1)")
    s.add_argument("--n-next", type=count(0), default=1, help="window: frames after (default 1)")
    s.add_argument("--min-cutoff", type=real(0, strict=True), default=None, help="one_euro: cutoff at rest, Hz")
    s.add_argument("--beta", type=real(0), default=None, help="one_euro: cutoff increase per face size/s, Hz")


def build_tracker(args: argparse.Namespace):
    """(aligner, tracker) from the shared options."""
    from ..video.tracker import FaceTracker, TrackerConfig

    aligner = build_aligner(args)
    cfg = TrackerConfig(detect_every=args.detect_every, max_faces=args.max_faces, check=not args.no_check)
    return aligner, FaceTracker(aligner, cfg)


def build_smoother(args: argparse.Namespace, fps: float):
    from ..video.smooth import BETA, MIN_CUTOFF, make_smoother

    return make_smoother(args.smooth, fps=fps, n_pre=args.n_pre, n_next=args.n_next,
                         min_cutoff=MIN_CUTOFF if args.min_cutoff is None else args.min_cutoff,
                         beta=BETA if args.beta is None else args.beta)


def _run(args: argparse.Namespace) -> int:
    from ..video.pipeline import run
    from ..video.reader import open_frames

    from ..video.writer import FOURCC

    if args.output is None and args.jsonl is None:
        raise UsageError("nothing to write: give -o OUT.mp4 and/or --jsonl FILE")
    outs = [Path(p) for p in (args.output, args.jsonl) if p is not None]
    if any(p.resolve() == Path(args.input).resolve() for p in outs) or len({p.resolve() for p in outs}) < len(outs):
        raise UsageError("the outputs would overwrite the input or each other")
    if args.output is not None and Path(args.output).suffix.lower() not in FOURCC:
        raise UsageError(f"{args.output}: unsupported video extension (use one of {', '.join(sorted(FOURCC))})")
    for p in outs:
        check_writable(p)
    frames = open_frames(args.input, fps=args.fps)  # fails early on missing / corrupt / empty input
    try:
        aligner, tracker = build_tracker(args)
        if args.overlay in ("dense", "3d") and aligner.face_model.triangles.shape[0] == 0:
            raise UsageError(f"--overlay {args.overlay} needs a dense face model; this model has 68 keypoints only "
                             "(use --overlay sparse)")
        smoother = build_smoother(args, frames.fps)
    except BaseException:
        frames.close()
        raise
    stats = run(frames, tracker, smoother, output=args.output, jsonl=args.jsonl, overlay=args.overlay,
                keep_audio=not args.no_audio, progress=not args.quiet, max_frames=args.max_frames)
    outputs = " and ".join(str(p) for p in (args.output, args.jsonl) if p)
    print(f"{stats.frames} frames, {stats.frames_with_faces} with faces, {len(stats.track_ids)} track(s), "
          f"{stats.fps:.1f} frames/s -> {outputs}", file=sys.stderr)
    if stats.audio and args.output:
        print(f"tddfa: {stats.audio}", file=sys.stderr)
    if stats.truncated:
        print(f"tddfa: warning: {args.input}: decoding stopped after {stats.frames} of the {frames.frame_count} "
              "frames the header announces; the output holds the frames that could be read", file=sys.stderr)
    if stats.skipped:
        print(f"tddfa: warning: {stats.skipped} unreadable image(s) skipped", file=sys.stderr)
    if stats.interrupted:
        print(f"tddfa: interrupted after {stats.frames} frames; outputs are complete up to there", file=sys.stderr)
        return 130
    if stats.frames and not stats.frames_with_faces:
        print(f"tddfa: no face found in any of the {stats.frames} frames (outputs written without faces)",
              file=sys.stderr)
        return 4
    return 0


def check_writable(path: Path) -> None:
    """``path`` can be created (its folder exists or can be made, and takes files): :class:`OutputError` if not."""
    from ..io.writers import prepare_out_dir

    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name")
    prepare_out_dir(path.parent)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("video", help="track faces through a video or image sequence; overlay video + JSON lines",
                       description="Track faces through a video file, an image folder or a glob pattern "
                                   "('frames/*.png'); write an overlay video (-o) and per-frame JSON lines (--jsonl).")
    p.add_argument("input", help="video file, image folder, or quoted glob pattern")
    p.add_argument("-o", "--output", help="output video (.mp4, .avi, ...)")
    p.add_argument("--overlay", choices=("sparse", "dense", "3d"), default="sparse")
    p.add_argument("--jsonl", metavar="FILE", help="per-frame JSON lines: frame, time, faces (track id, box, "
                                                  "landmarks, pose, params)")
    p.add_argument("--no-audio", action="store_true", help="do not copy the input's audio (needs ffmpeg otherwise)")
    p.add_argument("--fps", type=real(0, strict=True), default=None, help="frame rate for image sequences (default 25)")
    p.add_argument("--max-frames", type=count(1), default=None, help="stop after N frames")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_tracking_args(p)
    p.set_defaults(func=_run)
