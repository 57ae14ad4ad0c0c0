"""Small synthetic batch inputs (tests/batch): resized copies of examples/astronaut.jpg (one face), a face-free
photo, a short video, the bad items every job must survive, and one-call job helpers."""
from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

from video_files import write_video

from tddfa.api import FaceAligner
from tddfa.batch.job import run_job
from tddfa.batch.local import LocalEngine
from tddfa.batch.worker import WorkerSpec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "astronaut.jpg"
NEGATIVE = ROOT / "examples" / "negatives" / "brick.jpg"
SIDE = 160  # small images: the detector and the regressor run in a few ms each
BAD = {"corrupt.jpg": "corrupt", "empty.png": "empty", "broken.mp4": "video_unreadable"}


def face_image(i: int = 0) -> np.ndarray:
    """A ``SIDE`` px copy of the example, shifted a little per ``i`` so that images differ."""
    img = cv2.resize(cv2.imread(str(EXAMPLE)), (SIDE + 8, SIDE + 8), interpolation=cv2.INTER_AREA)
    dx, dy = i % 5, (i // 5) % 5
    return np.ascontiguousarray(img[dy:dy + SIDE, dx:dx + SIDE])


def make_faces(folder: Path, n: int, prefix: str = "img") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        p = folder / f"{prefix}{i:03d}.jpg"
        cv2.imwrite(str(p), face_image(i))
        out.append(p)
    return out


def make_media(root: Path) -> Path:
    """``root/photos``: a/face.jpg and b/face.jpg (one stem, two folders), b/brick.jpg (no face), clip.avi
    (6 frames), and the bad items of :data:`BAD`."""
    photos = root / "photos"
    (photos / "a").mkdir(parents=True)
    (photos / "b").mkdir()
    cv2.imwrite(str(photos / "a" / "face.jpg"), face_image(0))
    cv2.imwrite(str(photos / "b" / "face.jpg"), cv2.flip(face_image(3), 1))
    cv2.imwrite(str(photos / "b" / "brick.jpg"), cv2.resize(cv2.imread(str(NEGATIVE)), (SIDE, SIDE)))
    write_video(photos / "clip.avi", [face_image(i) for i in range(6)], fourcc="MJPG")
    (photos / "corrupt.jpg").write_bytes(EXAMPLE.read_bytes()[:2000])
    (photos / "empty.png").write_bytes(b"")
    (photos / "broken.mp4").write_bytes(b"not a video at all" * 10)
    return photos


def spec(out: Path, **kw) -> WorkerSpec:
    return WorkerSpec(make_aligner=functools.partial(FaceAligner), out_dir=str(out), **kw)


def run(inputs: list, out: Path, engine=None, settings: dict | None = None, **kw):
    """One job with the default models; ``kw`` goes to :class:`WorkerSpec` (``retry_failed``, ``vertices`` and
    ``on_result`` to ``run_job``)."""
    job_kw = {k: kw.pop(k) for k in ("retry_failed", "on_result") if k in kw}
    engine = engine or LocalEngine(spec(out, **kw))
    settings = settings if settings is not None else {"inputs": [str(i) for i in inputs], **{k: str(v) for k, v in kw.items()}}
    return run_job([str(i) for i in inputs], out, engine, settings, vertices=kw.get("vertices", False), quiet=True,
                   **job_kw)


def rows(out: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(out / "faces.parquet").to_pylist()


def errors(out: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
