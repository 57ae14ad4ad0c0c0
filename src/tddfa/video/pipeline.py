"""frames -> tracker -> smoother -> overlay + JSON lines, with a progress bar (frames/s).

Outputs are closed in ``finally`` blocks, so a run stopped by an error or Ctrl-C leaves a playable video and complete
JSON lines for the frames done so far.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

from .draw import draw_frame
from .reader import FrameSource
from .smooth import NoSmoother
from .threads import BackgroundWriter, prefetch
from .tracker import FaceTracker, TrackResult
from .writer import JsonlWriter, VideoWriter, face_record, find_ffmpeg


@dataclass
class RunStats:
    frames: int = 0  # frames written (all outputs hold exactly these)
    frames_with_faces: int = 0
    track_ids: set = field(default_factory=set)
    seconds: float = 0.0
    truncated: bool = False
    skipped: int = 0
    audio: str = ""
    interrupted: bool = False

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {"frames": self.frames, "frames_with_faces": self.frames_with_faces, "tracks": len(self.track_ids),
                "seconds": round(self.seconds, 3), "fps": round(self.fps, 2), "truncated": self.truncated,
                "skipped": self.skipped, "audio": self.audio, "interrupted": self.interrupted}


def run(frames: FrameSource, tracker: FaceTracker, smoother=None, output: str | Path | None = None,
        jsonl: str | Path | None = None, overlay: str = "sparse", keep_audio: bool = True, progress: bool = True,
        max_frames: int | None = None, on_frame: Callable[[int, np.ndarray, list[TrackResult]], bool] | None = None,
        threaded: bool = True) -> RunStats:
    """Process ``frames``; write the overlay video to ``output`` and per-frame JSON lines to ``jsonl`` (either may be
    None). ``on_frame(index, drawn_frame, results)`` is called per output frame (webcam preview); returning False
    stops. ``threaded``: decode ahead and draw/encode behind in worker threads (files; live sources should not
    queue frames). Returns :class:`RunStats`."""
    smoother = smoother or NoSmoother()
    stats = RunStats()
    face_model = tracker.aligner.face_model if overlay in ("dense", "3d") else None
    draw = output is not None or on_frame is not None
    fps = frames.fps or 25.0
    audio_src = frames.path if (keep_audio and output is not None and frames.is_file) else None
    writer = VideoWriter(output, fps, audio_from=audio_src, ffmpeg=find_ffmpeg() if audio_src else None) \
        if output is not None else None
    lines = JsonlWriter(jsonl) if jsonl is not None else None
    background = None
    if writer is not None and threaded and on_frame is None:
        background = BackgroundWriter(lambda item: writer.write(draw_frame(item[0], item[1], overlay, face_model)))
    pending: dict[int, np.ndarray] = {}
    stop = False

    def emit(index: int, results: list[TrackResult]) -> bool:
        frame = pending.pop(index)
        stats.frames += 1
        if results:
            stats.frames_with_faces += 1
            stats.track_ids.update(r.track_id for r in results)
        if lines is not None:
            lines.write(index, index / fps, [face_record(r.track_id, r.face, r.detected) for r in results])
        if background is not None:
            background.put((frame, results))
        elif draw:
            drawn = draw_frame(frame, results, overlay, face_model)
            if writer is not None:
                writer.write(drawn)
            if on_frame is not None and on_frame(index, drawn, results) is False:
                return False
        return True

    bar = tqdm(total=frames.frame_count or None, unit="frame", desc=Path(frames.name).name or "video",
               file=sys.stderr, disable=not progress, dynamic_ncols=True)
    source = prefetch(frames) if threaded else iter(frames)
    t0 = time.perf_counter()
    try:
        for index, frame in enumerate(source):
            if max_frames is not None and index >= max_frames:
                break
            pending[index] = frame
            for j, res in smoother.push(index, tracker.update(frame)):
                if not emit(j, res):
                    stop = True
            bar.update(1)
            if stop:
                break
    except KeyboardInterrupt:
        stats.interrupted = True
    finally:
        try:
            for j, res in smoother.flush():  # frames held back by a look-ahead window
                if j in pending:
                    emit(j, res)
        finally:
            if hasattr(source, "close"):
                source.close()  # stops the reader thread before the capture is released
            bar.close()
            try:
                if lines is not None:
                    lines.close()
                if background is not None:
                    background.close()
            finally:
                if writer is not None:
                    writer.close()
                    stats.audio = writer.audio_message
                stats.seconds = time.perf_counter() - t0
                stats.truncated = frames.truncated
                stats.skipped = frames.skipped
                frames.close()
    return stats
