"""Outputs of a video run: the rendered video (original audio muxed back when ffmpeg exists) and JSON lines.

Both writers are context managers and leave a valid file behind however the run ends (error, Ctrl-C): the video
writer is released in ``close()``, every JSON line is flushed as it is written.

ffmpeg: the system ``ffmpeg`` on PATH, else the binary of the optional ``imageio-ffmpeg`` package
(``pip install imageio-ffmpeg``); without either the video is written silent (OpenCV encodes it) and a note says so.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np

from ..errors import OutputError, UsageError

FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


def find_ffmpeg() -> str | None:
    """Path of an ffmpeg executable, or None."""
    exe = shutil.which("ffmpeg")
    if exe:
        return exe
    try:
        import imageio_ffmpeg  # optional extra
    except ImportError:
        return None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001 - a broken optional install means "no ffmpeg"
        return None


def has_audio(path: Path, ffmpeg: str, timeout: float = 60) -> bool:
    """Whether ffmpeg sees an audio stream in ``path``."""
    try:
        proc = subprocess.run([ffmpeg, "-nostdin", "-hide_banner", "-i", str(path)], capture_output=True, text=True,
                              timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return any("Stream #" in line and "Audio:" in line for line in proc.stderr.splitlines())


def mux_audio(video: Path, audio_source: Path, ffmpeg: str, timeout: float = 300) -> tuple[bool, str]:
    """Copy the audio of ``audio_source`` into ``video`` (video stream copied, audio AAC, cut to the video's length).

    ``video`` is replaced only when ffmpeg succeeds. Returns (done, message)."""
    tmp = video.with_name(video.stem + ".muxing" + video.suffix)
    cmd = [ffmpeg, "-nostdin", "-y", "-v", "error", "-i", str(video), "-i", str(audio_source),
           "-map", "0:v:0", "-map", "1:a:0?", "-c:v", "copy", "-c:a", "aac", "-shortest", str(tmp)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        tmp.unlink(missing_ok=True)
        return False, f"ffmpeg failed ({exc}); the video is kept without audio"
    if proc.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        err = (proc.stderr or "").strip().splitlines()
        return False, f"ffmpeg could not add the audio ({err[-1] if err else proc.returncode}); kept without audio"
    os.replace(tmp, video)
    return True, "audio copied from the input"


# an audio track's header: MP4/MOV handler type 'soun', AVI stream header type 'auds'
_AUDIO_MARKS = {".mp4": re.compile(rb"hdlr.{8}soun", re.S), ".m4v": re.compile(rb"hdlr.{8}soun", re.S),
                ".mov": re.compile(rb"hdlr.{8}soun", re.S), ".avi": re.compile(rb"strh.{4}auds|strhauds", re.S)}


def might_have_audio(path: Path, window: int = 8 << 20) -> bool:
    """Without ffmpeg: whether ``path`` may hold an audio track (its container's headers, in the first and last
    ``window`` bytes, where MP4 and AVI keep them); True for containers it cannot read."""
    mark = _AUDIO_MARKS.get(path.suffix.lower())
    if mark is None:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(window)
            f.seek(max(0, os.path.getsize(path) - window))
            tail = f.read(window)
    except OSError:
        return True
    return bool(mark.search(head) or mark.search(tail))


class VideoWriter:
    """``write(frame)`` BGR uint8 frames of one size; ``close()`` releases the encoder (then muxes audio if asked).

    The encoder opens on the first frame (its size fixes the video's)."""

    def __init__(self, path: str | Path, fps: float, audio_from: str | Path | None = None, ffmpeg: str | None = None):
        self.path = Path(path)
        if self.path.suffix.lower() not in FOURCC:
            raise UsageError(f"{path}: unsupported video extension (use one of {', '.join(sorted(FOURCC))})")
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = float(fps) if fps and fps > 0 else 25.0
        self.audio_from = Path(audio_from) if audio_from else None
        self.ffmpeg = ffmpeg
        self.writer: cv2.VideoWriter | None = None
        self.frames = 0
        self.size: tuple[int, int] | None = None
        self.audio_message = ""

    def write(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if self.writer is None:
            self.size = (w, h)
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*FOURCC[self.path.suffix.lower()]),
                                          self.fps, self.size)
            if not self.writer.isOpened():
                self.writer = None
                raise OutputError(f"{self.path}: cannot create the output video (folder writable? codec available?)")
        elif (w, h) != self.size:
            frame = cv2.resize(frame, self.size)
        self.writer.write(np.ascontiguousarray(frame))
        self.frames += 1

    def close(self) -> None:
        if self.writer is None:
            return
        self.writer.release()
        self.writer = None
        if self.audio_from is None or not self.frames:
            return
        if self.ffmpeg:
            if has_audio(self.audio_from, self.ffmpeg):  # a silent input: nothing to copy, nothing to say
                _, self.audio_message = mux_audio(self.path, self.audio_from, self.ffmpeg)
        elif might_have_audio(self.audio_from):
            self.audio_message = ("no ffmpeg found (install ffmpeg or `pip install imageio-ffmpeg`): "
                                  "the video has no audio")

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def face_record(track_id: int, face, detected: bool = False) -> dict:
    """JSON-ready dict of one tracked face (``Face.to_dict()`` plus the track id)."""
    d = face.to_dict()
    # float32 values: 7 significant digits say all there is (and halve the file)
    d["params"] = [float(f"{v:.7g}") for v in d["params"]]
    for k in ("box", "roi"):
        d[k] = [round(v, 3) for v in d[k]]
    d["score"] = round(d["score"], 5)
    d["pose"] = {k: round(v, 4) for k, v in d["pose"].items()}
    return {"track_id": int(track_id), "detected": bool(detected), **d}


class JsonlWriter:
    """One JSON object per frame: ``{"frame", "time", "faces": [{"track_id", "box", "score", "roi", "params",
    "landmarks_2d", "landmarks_3d", "pose", "detected"}]}``; frames without a face have ``"faces": []``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.fh = open(self.path, "w", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
        self.lines = 0

    def write(self, frame: int, time: float, records: list[dict]) -> None:
        self.fh.write(json.dumps({"frame": int(frame), "time": round(float(time), 4), "faces": records},
                                 separators=(",", ":")) + "\n")
        self.fh.flush()
        self.lines += 1

    def close(self) -> None:
        if not self.fh.closed:
            self.fh.close()

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
