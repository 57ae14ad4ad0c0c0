"""``tddfa webcam [--device 0]``: live tracking and smoothing from a camera, shown in a window (q / Esc quits)."""
from __future__ import annotations

import argparse
import sys

from .video import add_tracking_args, build_smoother, build_tracker


def _has_display() -> bool:
    """True when OpenCV can open a window (the headless wheel cannot)."""
    import cv2

    try:
        cv2.namedWindow("tddfa-probe", cv2.WINDOW_NORMAL)
        cv2.destroyWindow("tddfa-probe")
        return True
    except cv2.error:
        return False


def _run(args: argparse.Namespace) -> int:
    import cv2

    from ..video.pipeline import run
    from ..video.reader import CameraSource

    frames = CameraSource(args.device, args.width, args.height)  # InputError (one line) when there is no camera
    try:
        show = not args.no_window and _has_display()
        if not show and args.output is None and args.jsonl is None:
            print("tddfa: note: no display available (headless OpenCV); give -o FILE and/or --jsonl FILE to keep "
                  "the results, Ctrl-C stops", file=sys.stderr)
        aligner, tracker = build_tracker(args)
        smoother = build_smoother(args, frames.fps)
    except BaseException:
        frames.close()
        raise

    def on_frame(index, drawn, results) -> bool:
        if not show:
            return True
        cv2.imshow("tddfa webcam (q to quit)", drawn)
        return (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)

    try:
        stats = run(frames, tracker, smoother, output=args.output, jsonl=args.jsonl, overlay=args.overlay,
                    keep_audio=False, progress=not args.quiet, max_frames=args.max_frames,
                    on_frame=on_frame if show else None, threaded=False)
    finally:
        if show:
            cv2.destroyAllWindows()
    print(f"{stats.frames} frames, {stats.frames_with_faces} with faces, {stats.fps:.1f} frames/s", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("webcam", help="live face tracking from a camera")
    p.add_argument("--device", default="0", help="camera index (or a stream URL), default 0")
    p.add_argument("--width", type=int, default=None, help="ask the camera for this frame width")
    p.add_argument("--height", type=int, default=None, help="ask the camera for this frame height")
    p.add_argument("-o", "--output", help="also record the overlay video to this file")
    p.add_argument("--jsonl", metavar="FILE", help="also write per-frame JSON lines")
    p.add_argument("--overlay", choices=("sparse", "dense", "3d"), default="sparse")
    p.add_argument("--no-window", action="store_true", help="do not open a preview window")
    p.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_tracking_args(p)
    p.set_defaults(func=_run)
