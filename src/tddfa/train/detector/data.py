"""Training images for the face detector, made from 68-point annotated face crops.

Face boxes come from the landmarks, mapped to the box convention of FaceBoxes-style detectors (which
include the forehead): measured on the 300W train crops (not AFW) by matching the reference detector's
boxes to the tight 68-point boxes (1675 faces, median IoU 0.69): centre x unchanged, centre y moved up by
0.17 of the landmark box height, width x0.97, height x1.32 (std of each ratio 0.03-0.1). Only that
4-number mapping was measured; no detector output is used as a label.

Each sample is either one crop with its real context, zoomed and rotated to fill the canvas (a large
face), or a mosaic of 1-12 crops of log-uniform size (about 12 px to a third of the canvas) pasted with a
feathered mask on a background made of face-free pieces of the crops (hair, necks, clothes, scenery)
or smooth colour fields. Then colour
jitter, grey, blur, noise and JPEG re-encoding. Everything draws from ``np.random.Generator(seed, index)``
so sample ``i`` is the same on every run (deterministic and resumable).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# landmark box (x1,y1,x2,y2) -> detector-style face box: (dcx/w, dcy/h, w scale, h scale)
BOX_MAPPING = (0.0, -0.17, 0.97, 1.32)


def face_box_from_landmarks(pts: np.ndarray, mapping=BOX_MAPPING) -> np.ndarray:
    """``pts (..., 68, 2)`` -> detector-style face boxes ``(..., 4)`` x1, y1, x2, y2."""
    lo, hi = pts.min(-2), pts.max(-2)
    wh = hi - lo
    c = (lo + hi) / 2 + np.array(mapping[:2]) * wh
    half = wh * np.array(mapping[2:]) / 2
    return np.concatenate([c - half, c + half], -1)


@dataclass
class FacePool:
    """Square face crops ``images (N, S, S, 3)`` uint8 BGR with landmarks ``pts (N, 68, 2)`` in crop pixels;
    ``valid (N, S, S)`` uint8, if given, is 1 where a crop shows its source photo (0: filled in, never pasted);
    ``others``, if given, holds per crop the boxes ``(M, 4)`` of other people's faces in it (a teacher's, see
    ``teacher.py``): never background, never targets."""

    images: np.ndarray
    pts: np.ndarray
    valid: np.ndarray | None = None
    others: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.images)

    def valid_mask(self) -> np.ndarray:
        return np.ones(self.images.shape[:3], np.uint8) if self.valid is None else self.valid

    def others_list(self) -> list[np.ndarray]:
        return self.others if self.others is not None else [np.zeros((0, 4), np.float32)] * len(self)

    @classmethod
    def concat(cls, parts: list[FacePool]) -> FacePool:
        """One pool of ``parts`` in order (``others`` kept when any part has them)."""
        others = [o for q in parts for o in q.others_list()] if any(q.others is not None for q in parts) else None
        return cls(np.concatenate([q.images for q in parts]), np.concatenate([q.pts for q in parts]),
                   np.concatenate([q.valid_mask() for q in parts]), others)


def select_300w(ann, splits=("train",), exclude_subsets=("afw",)) -> np.ndarray:
    """Row indices of the 300W annotation table in ``splits``, never AFW."""
    sel = np.flatnonzero(np.isin(ann["split"], splits) & ~np.isin(ann["subset"], tuple(exclude_subsets) + ("afw",)))
    return sel


def load_300w(root: str | Path, splits=("train",), exclude_subsets=("afw",),
              others: dict[str, np.ndarray] | None = None) -> FacePool:
    """300W crops of the given splits, never the AFW subset (AFW is the detector's test set); ``others``: name ->
    other faces' boxes (``teacher.load_other_faces``), attached as ``FacePool.others``."""
    root = Path(root)
    ann = np.load(root / "annotations.npz")
    sel = select_300w(ann, splits, exclude_subsets)
    imgs = np.stack([cv2.imread(str(root / "images" / f"{ann['names'][i]}.jpg")) for i in sel])
    extra = None
    if others is not None:
        extra = [np.asarray(others.get(str(ann["names"][i]), np.zeros((0, 4))), np.float32).reshape(-1, 4)
                 for i in sel]
    return FacePool(imgs, ann["pts68"][sel].astype(np.float32), others=extra)


def _feather_mask(size: int, inner: float = 0.8) -> np.ndarray:
    """Radial mask of a square crop: 1 inside ``inner`` of the half-side, linear fade to 0 at the edge."""
    c = (size - 1) / 2
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(xx - c, yy - c) / (size / 2)
    return np.clip((1 - r) / (1 - inner), 0, 1).astype(np.float32)


class MosaicGenerator:
    """``gen(index) -> (img (S, S, 3) uint8 BGR, boxes (K, 4), ignore (M, 4))``, float32 pixels.

    ``ignore`` are faces too small or too cut off by the canvas edge to be targets: the loss neither
    rewards nor penalises detections on them (so a half face is not taught as background)."""

    def __init__(self, pool: FacePool, size: int = 512, seed: int = 0, p_single: float = 0.3,
                 max_faces: int = 12, min_face: float = 12.0, min_visible: float = 0.6,
                 face_p: np.ndarray | None = None, n_background: int | None = None, p_group: float = 0.0,
                 p_context: float = 0.0, p_occlude: float = 0.0):
        """``face_p (N,)``: probability of drawing each face (default uniform); ``n_background``: only the first
        that many crops give background pieces (the real photos, not crops whose borders were replicated);
        ``p_group``: share of samples that are group photos (``_group``; 0: none);
        ``p_context``: share of pasted faces cut to a random window around the face (``_context_window``);
        ``p_occlude``: share of faces given a face-free patch over the top of the head (``_occlude``); 0: faces
        pasted whole, unoccluded."""
        self.pool, self.size, self.seed = pool, size, seed
        self.face_p = None if face_p is None else np.asarray(face_p, np.float64) / np.sum(face_p)
        self.n_background = len(pool) if n_background is None else int(n_background)
        self.p_single, self.max_faces, self.min_face, self.min_visible = p_single, max_faces, min_face, min_visible
        self.p_group = float(p_group)
        self.p_context, self.p_occlude = float(p_context), float(p_occlude)
        self.crop = pool.images.shape[1]
        self.mask = _feather_mask(self.crop)
        self.boxes = face_box_from_landmarks(pool.pts)  # (N, 4) in crop pixels

    # ---------- pieces ----------
    def _negative_patch(self, rng: np.random.Generator) -> np.ndarray:
        """A face-free piece of a real photo: a random rectangle of a crop that covers at most a quarter of
        that crop's face box, a sixth at most (so hair, ears, necks, clothes and scenery teach the background class)."""
        C = self.crop
        for _ in range(20):
            i = int(rng.integers(self.n_background))
            w, h = rng.integers(C // 8, C // 2, 2)
            x, y = int(rng.integers(0, C - w)), int(rng.integers(0, C - h))
            patch = self.pool.images[i, y:y + h, x:x + w]
            rect = np.array([x, y, x + w, y + h])
            if _cover(rect, self.boxes[i]) <= 0.15 and (patch.max(2) < 8).mean() < 0.1 and \
                    all(_cover(rect, b) <= 0.15 for b in self._others_in(i)):
                break  # (also skips the black padding of crops that touched the photo border)
        return patch

    def _background(self, rng: np.random.Generator) -> np.ndarray:
        S = self.size
        if rng.random() < 0.2:  # smooth colour field + texture noise
            small = rng.integers(0, 256, (rng.integers(2, 9), rng.integers(2, 9), 3)).astype(np.uint8)
            bg = cv2.resize(small, (S, S), interpolation=cv2.INTER_CUBIC)
            noise = rng.standard_normal((S, S, 1), dtype=np.float32) * rng.uniform(2, 20)
            return np.clip(bg + noise, 0, 255).astype(np.uint8)
        bg = cv2.resize(self._negative_patch(rng), (S, S), interpolation=cv2.INTER_LINEAR)
        for _ in range(int(rng.integers(0, 9))):  # clutter at every scale
            patch = self._negative_patch(rng)
            f = np.exp(rng.uniform(np.log(0.5), np.log(4.0)))
            w = int(min(S, max(4, patch.shape[1] * f)))
            h = int(min(S, max(4, patch.shape[0] * f)))
            x, y = int(rng.integers(0, S - w + 1)), int(rng.integers(0, S - h + 1))
            bg[y:y + h, x:x + w] = cv2.resize(patch, (w, h))
        return bg

    def _face_transform(self, rng, idx: int, face_w: float, cx: float, cy: float, angle: float, flip: bool):
        """2x3 affine crop -> canvas that puts face ``idx``'s box centre at (cx, cy) with width ``face_w``."""
        b = self.boxes[idx]
        s = face_w / (b[2] - b[0])
        bc = np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])
        if flip:
            bc[0] = self.crop - 1 - bc[0]
        M = cv2.getRotationMatrix2D((float(bc[0]), float(bc[1])), angle, s)
        M[:, 2] += np.array([cx, cy]) - bc
        return M

    def _paste(self, canvas, rng, idx, M, flip, feather: bool):
        img = self.pool.images[idx]
        if flip:
            img = img[:, ::-1]
        S = self.size
        s = np.sqrt(abs(np.linalg.det(M[:, :2])))
        if s < 0.7:  # anti-alias strong downscaling before the warp
            img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
            M = M.copy()
            M[:, :2] /= s
        # photometric jitter per face (lighting differs between people in a mosaic)
        img = self._colour(rng, img)
        valid = None if self.pool.valid is None else self.pool.valid[idx]
        if valid is not None and valid.min() == 0:
            feather = True  # a crop with filled-in borders: paste its source pixels only, softly
            valid = valid[:, ::-1] if flip else valid
            mask = self.mask * cv2.GaussianBlur(valid.astype(np.float32), (0, 0), 3.0)  # no hard square edge
            mask = cv2.resize(mask, img.shape[1::-1], interpolation=cv2.INTER_AREA) if mask.shape != img.shape[:2] \
                else mask
        else:
            mask = cv2.resize(self.mask, img.shape[1::-1]) if feather else np.ones(img.shape[:2], np.float32)
        if self.p_context and rng.random() < self.p_context:
            mask = mask * self._context_window(rng, idx, flip, img.shape[0] / self.crop, feather)
        h, w = img.shape[:2]
        corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64) @ M.T
        x0, y0 = np.floor(corners.min(0)).astype(int)
        x1, y1 = np.ceil(corners.max(0)).astype(int)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, S), min(y1, S)
        if x1 <= x0 or y1 <= y0:
            return
        Mr = M.copy()
        Mr[:, 2] -= (x0, y0)
        warped = cv2.warpAffine(img, Mr, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        a = cv2.warpAffine(mask, Mr, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderValue=0)[..., None]
        roi = canvas[y0:y1, x0:x1].astype(np.float32)
        canvas[y0:y1, x0:x1] = (roi * (1 - a) + warped.astype(np.float32) * a).astype(np.uint8)
        return (x0, y0, x1, y1), a[..., 0]

    def _context_window(self, rng, idx: int, flip: bool, scale: float, feather: bool) -> np.ndarray:
        """Mask ``(h, w)`` float32 of crop ``idx`` (resized by ``scale``) keeping a random window around its face.

        Every 300W crop is 2x its landmark box around the face's centre, so a whole pasted crop has its edge at
        one fixed distance from the face box: a detector can learn box size from the paste's edge instead of
        the face, and then, on real photos, from the head's outline (boxes grown over hats and hair). Each side
        of the window keeps a random 10-100 % of the margin the crop has there; the edge is hard or feathered.
        """
        b = self.boxes[idx].astype(np.float64)
        C = self.crop
        if flip:
            b = np.array([C - 1 - b[2], b[1], C - 1 - b[0], b[3]])
        lo = np.clip(b[:2], 0, C)
        hi = np.clip(b[2:], 0, C)
        f = rng.uniform(0.1, 1.0, 4)
        x0, y0 = lo * (1 - f[:2])
        x1, y1 = hi + (C - hi) * f[2:]
        n = round(C * scale)
        x0, y0, x1, y1 = (np.array([x0, y0, x1, y1]) * scale).round().astype(int)
        m = np.zeros((n, n), np.float32)
        m[max(y0, 0):y1, max(x0, 0):x1] = 1
        if feather and rng.random() < 0.5:
            sig = max(0.5, rng.uniform(0.02, 0.1) * (x1 - x0))
            m = cv2.GaussianBlur(m, (0, 0), sig) * m  # fades inside the window, stays 0 outside
        return m

    def _occlude(self, canvas: np.ndarray, rng, box: np.ndarray) -> None:
        """A face-free patch over the top of the head (a hat, a cap, a book, a hand): it may cover up to 15 %
        of the face box's height, so the box must come from the face below it, not the head's outline."""
        S = self.size
        w, h = box[2] - box[0], box[3] - box[1]
        pw = int(w * rng.uniform(0.8, 1.8))
        ph = int(h * rng.uniform(0.25, 0.8))
        if pw < 4 or ph < 4:
            return
        cx = (box[0] + box[2]) / 2 + rng.uniform(-0.2, 0.2) * w
        bottom = box[1] + rng.uniform(-0.1, 0.15) * h
        x0, y0 = round(cx - pw / 2), round(bottom - ph)
        patch = self._colour(rng, cv2.resize(self._negative_patch(rng), (pw, ph), interpolation=cv2.INTER_LINEAR))
        xs, ys = max(x0, 0), max(y0, 0)
        xe, ye = min(x0 + pw, S), min(y0 + ph, S)
        if xe > xs and ye > ys:
            canvas[ys:ye, xs:xe] = patch[ys - y0:ye - y0, xs - x0:xe - x0]

    def _others_in(self, idx: int) -> np.ndarray:
        others = self.pool.others
        return np.zeros((0, 4), np.float32) if others is None or idx >= len(others) else others[idx]

    def _other_boxes(self, idx, M, flip) -> np.ndarray:
        """Other faces of crop ``idx`` on the canvas ``(M, 4)``: bounding boxes of their warped corners."""
        b = self._others_in(idx)
        if len(b) == 0:
            return np.zeros((0, 4), np.float32)
        x1, y1, x2, y2 = b.T
        if flip:
            x1, x2 = self.crop - 1 - x2, self.crop - 1 - x1
        corners = np.stack([np.stack([x, y], -1) for x, y in ((x1, y1), (x2, y1), (x1, y2), (x2, y2))], 1)
        warped = corners @ M[:, :2].T + M[:, 2]
        return np.concatenate([warped.min(1), warped.max(1)], 1).astype(np.float32)

    def _landmark_box(self, idx, M, flip) -> np.ndarray:
        p = self.pool.pts[idx].copy()
        if flip:
            p[:, 0] = self.crop - 1 - p[:, 0]
        p = p @ M[:, :2].T + M[:, 2]
        return face_box_from_landmarks(p)

    @staticmethod
    def _colour(rng, img: np.ndarray) -> np.ndarray:
        if rng.random() < 0.5:
            return img
        f = img.astype(np.float32)
        f = f * rng.uniform(0.6, 1.4) + rng.uniform(-40, 40)  # contrast, brightness
        f = f * rng.uniform(0.85, 1.15, 3)  # colour cast
        if rng.random() < 0.15:
            f[:] = f.mean(2, keepdims=True)
        return np.clip(f, 0, 255).astype(np.uint8)

    def _degrade(self, rng, img: np.ndarray) -> np.ndarray:
        if rng.random() < 0.1:
            img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        if rng.random() < 0.3:
            img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 2.0))
        if rng.random() < 0.3:
            noise = rng.standard_normal(img.shape, dtype=np.float32) * rng.uniform(2, 12)
            img = np.clip(img + noise, 0, 255).astype(np.uint8)
        if rng.random() < 0.5:
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 95))])
            img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        return img

    def _face(self, rng) -> int:
        if self.face_p is None:  # the stream of the original (one-pool) configs, unchanged
            return int(rng.integers(len(self.pool)))
        return int(rng.choice(len(self.pool), p=self.face_p))

    # ---------- samples ----------
    def _single(self, rng):
        """One crop with its real context filling the canvas: a large face."""
        S = self.size
        idx = self._face(rng)
        flip = bool(rng.random() < 0.5)
        face_w = S * rng.uniform(0.25, 0.85)
        cx = S / 2 + rng.uniform(-0.25, 0.25) * S
        cy = S / 2 + rng.uniform(-0.2, 0.2) * S
        M = self._face_transform(rng, idx, face_w, cx, cy, rng.normal(0, 10), flip)
        canvas = self._background(rng)
        self._paste(canvas, rng, idx, M, flip, feather=bool(rng.random() < 0.3))
        box = self._landmark_box(idx, M, flip)
        if self.p_occlude and rng.random() < self.p_occlude:
            self._occlude(canvas, rng, box)
        return canvas, [box], [self._other_boxes(idx, M, flip)]

    def _mosaic(self, rng):
        S = self.size
        canvas = self._background(rng)
        n = int(rng.integers(1, self.max_faces + 1))
        lo, hi = np.log(self.min_face), np.log(S / 2.5)
        sizes = np.sort(np.exp(rng.uniform(lo, hi, n)))[::-1]  # big first so small ones stay visible
        boxes, patches, others = [], [], []
        for face_w in sizes:
            idx = self._face(rng)
            flip = bool(rng.random() < 0.5)
            angle = rng.normal(0, 12)
            for _ in range(10):
                cx, cy = rng.uniform(0, S, 2)
                M = self._face_transform(rng, idx, face_w, cx, cy, angle, flip)
                box = self._landmark_box(idx, M, flip)
                # the pasted crop is twice the face: keep it off faces already placed
                half = self.crop / 2 * np.sqrt(abs(np.linalg.det(M[:, :2])))
                patch = np.array([cx - half, cy - half, cx + half, cy + half])
                if all(_cover(patch, b) < 0.25 for b in boxes):
                    break
            else:
                continue
            self._paste(canvas, rng, idx, M, flip, feather=bool(rng.random() < 0.5))
            if self.p_occlude and rng.random() < self.p_occlude:
                self._occlude(canvas, rng, box)
            boxes.append(box)
            patches.append(patch)
            others.append(self._other_boxes(idx, M, flip))
        return canvas, boxes, others

    def _group(self, rng):
        """A group photo: 2-7 people of about one size side by side in one or two rows, each crop pasted whole
        with its context, so neighbours' hair and shoulders overlap (mosaics keep faces apart). Faces hidden
        under later pastes become targets only if ``min_visible`` of their box is still theirs."""
        S = self.size
        canvas = self._background(rng)
        n = int(rng.integers(2, 8))
        base = np.exp(rng.uniform(np.log(max(self.min_face, 16.0)), np.log(S / 4)))
        rows = 1 if n < 4 or rng.random() < 0.5 else 2
        owner = np.full((S, S), -1, np.int32)
        y_front = rng.uniform(0.35, 0.75) * S
        boxes, others, lane = [], [], []
        for r in range(rows):  # back row first: the front row covers it
            k = n // rows + (1 if r < n % rows else 0)
            w = base * (0.85 if rows == 2 and r == 0 else 1.0)
            gaps = w * rng.uniform(1.0, 1.6, k)
            xs = np.cumsum(gaps) - gaps.sum() / 2 + S / 2 + rng.uniform(-0.2, 0.2) * S + (gaps[0] / 2 if r == 0 else 0)
            y = y_front - (rng.uniform(0.6, 0.9) * base if rows == 2 and r == 0 else 0)
            lane += [(x, y + rng.uniform(-0.15, 0.15) * w, w * rng.uniform(0.9, 1.1)) for x in xs]
        for j, (cx, cy, face_w) in enumerate(lane):
            idx = self._face(rng)
            flip = bool(rng.random() < 0.5)
            M = self._face_transform(rng, idx, face_w, cx, cy, rng.normal(0, 8), flip)
            a = self._paste(canvas, rng, idx, M, flip, feather=bool(rng.random() < 0.5))
            if a is not None:
                (x0, y0, x1, y1), alpha = a
                owner[y0:y1, x0:x1][alpha > 0.5] = j
            boxes.append(self._landmark_box(idx, M, flip))
            others.append(self._other_boxes(idx, M, flip))
        keep, hidden = [], []
        for j, b in enumerate(boxes):
            x0, y0, x1, y1 = np.clip(np.round(b).astype(int), 0, S)
            area = max((x1 - x0) * (y1 - y0), 1)
            mine = float((owner[y0:y1, x0:x1] == j).sum()) / area if x1 > x0 and y1 > y0 else 0.0
            (keep if mine >= self.min_visible else hidden).append(b)
        return canvas, keep, others + [np.asarray(hidden, np.float32).reshape(-1, 4)]

    def __call__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, self.size, int(index)])
        if self.p_group and rng.random() < self.p_group:
            img, boxes, others = self._group(rng)
        else:
            img, boxes, others = self._single(rng) if rng.random() < self.p_single else self._mosaic(rng)
        img = self._degrade(rng, img)
        keep, ignore = self._clip(np.asarray(boxes, np.float32).reshape(-1, 4))
        other = np.concatenate(others).reshape(-1, 4) if others else np.zeros((0, 4), np.float32)
        if len(other):  # other people's faces: ignored wherever part of them is on the canvas
            c = np.clip(other, 0, self.size)
            c = c[((c[:, 2:] - c[:, :2]) > 1).all(1)]
            ignore = np.concatenate([ignore, c]).astype(np.float32)
        return img, keep, ignore

    def _clip(self, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        S = self.size
        area = np.prod(boxes[:, 2:] - boxes[:, :2], 1)
        c = np.clip(boxes, 0, S)
        wh = c[:, 2:] - c[:, :2]
        vis = np.prod(np.clip(wh, 0, None), 1) / np.maximum(area, 1e-6)
        keep = (vis >= self.min_visible) & (wh.min(1) >= self.min_face * 0.8)
        ignore = ~keep & (vis > 0.05) & (wh.min(1) > 1)
        return c[keep].astype(np.float32), c[ignore].astype(np.float32)


def _cover(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of box ``b`` covered by box ``a``."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return w * h / max((b[2] - b[0]) * (b[3] - b[1]), 1e-6)
