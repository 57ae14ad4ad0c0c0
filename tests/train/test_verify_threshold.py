"""Calibration of the face/no-face re-crop threshold on a fake 300W pack with a scripted aligner."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from tddfa.errors import InputError
from tddfa.train.verify_threshold import (
    MARGIN,
    measure_verify_threshold,
    write_verify_threshold,
)

cv2 = pytest.importorskip("cv2")

# name, split, subset, what the aligner "detects": list of (box kind, disagreement)
#   "good": the annotation's tight box (IoU ~1), "off": a box far from the face (IoU 0)
ENTRIES = [
    ("helen_0", "train", "helen", [("good", 0.02)]),
    ("lfpw_0", "train", "lfpw", [("good", 0.05)]),               # the largest counted disagreement
    ("afw_0", "train", "afw", [("good", 0.50)]),                 # AFW: excluded
    ("ibug_0", "test", "ibug", [("good", 0.90)]),                # not the train split
    ("helen_1", "train", "helen", [("off", 0.70)]),              # detected elsewhere: missed
    ("helen_2", "train", "helen", []),                           # nothing detected: missed
    ("lfpw_1", "train", "lfpw", [("off", 0.95), ("good", 0.04)]),  # the overlapping face is the one measured
]
COUNTED = [0.02, 0.05, 0.04]


def _value(i: int) -> int:
    return 10 + 30 * i  # each image is one flat grey level that identifies it (JPEG keeps flat images)


@pytest.fixture
def pack(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "300w"
    (root / "images").mkdir(parents=True)
    pts = []
    for i, (name, *_rest) in enumerate(ENTRIES):
        cv2.imwrite(str(root / "images" / f"{name}.jpg"), np.full((48, 64, 3), _value(i), np.uint8))
        p = rng.uniform(8, 40, (68, 2))
        pts.append(p)
    np.savez(root / "annotations.npz", names=np.array([e[0] for e in ENTRIES]), pts68=np.stack(pts).astype(np.float32),
             split=np.array([e[1] for e in ENTRIES]), subset=np.array([e[2] for e in ENTRIES]))
    return root, np.stack(pts)


class FakeAligner:
    def __init__(self, pts68: np.ndarray, fail_on: str | None = None):
        self.pts68 = pts68
        self.verify = 0.08
        self.fail_on = fail_on
        self.seen: list[str] = []
        self.verify_during: list = []

    def _index(self, img: np.ndarray) -> int:
        return round((float(img.mean()) - 10) / 30)

    def __call__(self, img):
        i = self._index(img)
        name = ENTRIES[i][0]
        self.seen.append(name)
        self.verify_during.append(self.verify)
        if name == self.fail_on:
            raise RuntimeError("detector crashed")
        p = self.pts68[i]
        tight = np.concatenate([p.min(0), p.max(0)])
        faces = []
        for kind, d in ENTRIES[i][3]:
            box = tight + np.array([0.5, -0.5, 0.5, 0.5]) if kind == "good" else tight + 500.0
            faces.append(SimpleNamespace(box=box.astype(np.float32), d=d))
        return faces

    def recrop_disagreement(self, img, faces):
        self.verify_during.append(self.verify)
        return np.array([f.d for f in faces])


def test_threshold_is_margin_times_the_max_over_detected_non_afw_train_faces(pack):
    root, pts = pack
    al = FakeAligner(pts)
    st = measure_verify_threshold(al, root, step=1)
    assert st["threshold"] == round(1.3 * max(COUNTED), 3) == 0.065
    assert st["margin"] == MARGIN == 1.3
    assert st["max"] == pytest.approx(0.05)
    assert st["median"] == pytest.approx(np.median(COUNTED))
    assert st["p99"] == pytest.approx(np.percentile(COUNTED, 99))
    assert st["n_faces"] == 3 and st["missed"] == 2 and st["split"] == "train"
    # AFW and the test split were never even looked at
    assert al.seen == ["helen_0", "lfpw_0", "helen_1", "helen_2", "lfpw_1"]
    # the re-crop test is off while measuring, and restored afterwards
    assert al.verify_during and all(v is None for v in al.verify_during)
    assert al.verify == 0.08


def test_step_margin_and_split_options(pack):
    root, pts = pack
    al = FakeAligner(pts)
    st = measure_verify_threshold(al, root, step=2, margin=2.0)
    # non-AFW train faces: helen_0, lfpw_0, helen_1, helen_2, lfpw_1 -> every 2nd: helen_0, helen_1, lfpw_1
    assert al.seen == ["helen_0", "helen_1", "lfpw_1"]
    assert st["n_faces"] == 2 and st["missed"] == 1
    assert st["threshold"] == round(2.0 * 0.04, 3) and st["margin"] == 2.0
    st = measure_verify_threshold(FakeAligner(pts), root, split="test", step=1)
    assert st["threshold"] == round(1.3 * 0.9, 3) and st["split"] == "test" and st["n_faces"] == 1


def test_verify_is_restored_when_the_aligner_raises(pack):
    root, pts = pack
    al = FakeAligner(pts, fail_on="lfpw_0")
    al.verify = 0.123
    with pytest.raises(RuntimeError, match="detector crashed"):
        measure_verify_threshold(al, root, step=1)
    assert al.verify == 0.123


def test_unreadable_image_raises_input_error_and_restores_verify(pack):
    root, pts = pack
    (root / "images" / "lfpw_0.jpg").unlink()
    al = FakeAligner(pts)
    with pytest.raises(InputError, match="lfpw_0"):
        measure_verify_threshold(al, root, step=1)
    assert al.verify == 0.08


def test_no_detected_face_and_missing_pack_raise_input_error(pack, tmp_path):
    root, pts = pack

    class Blind(FakeAligner):
        def __call__(self, img):
            super().__call__(img)
            return []

    blind = Blind(pts)
    with pytest.raises(InputError, match="no face"):
        measure_verify_threshold(blind, root, step=1)
    assert blind.verify == 0.08
    with pytest.raises(InputError, match="annotations.npz"):
        measure_verify_threshold(FakeAligner(pts), tmp_path / "nowhere")


def test_write_verify_threshold_adds_the_value_and_a_note_and_keeps_other_keys(tmp_path):
    js = tmp_path / "m.json"
    meta = {"name": "m", "arch": "mb05", "input_size": 120, "param_mean": [0.0] * 62, "param_std": [1.0] * 62,
            "roi_box_scale": 1.6, "card": "a card"}
    js.write_text(json.dumps(meta))
    stats = {"threshold": 0.065, "margin": 1.3, "median": 0.021, "p99": 0.049, "max": 0.05, "n_faces": 3,
             "missed": 2, "split": "train"}
    write_verify_threshold(js, stats)
    out = json.loads(js.read_text())
    assert out["verify_threshold"] == 0.065
    for k, v in meta.items():
        assert out[k] == v
    note = out["verify_threshold_note"]
    assert "1.3" in note and "3 detected 300W train" in note and "0.050" in note and "no AFW" in note
    # re-calibrating replaces the value
    write_verify_threshold(js, {**stats, "threshold": 0.07})
    assert json.loads(js.read_text())["verify_threshold"] == 0.07
