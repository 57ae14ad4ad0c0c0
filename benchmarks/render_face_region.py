"""Render the derived BFM face region (no neck, no ears) from the front and the side: docs/face_region.png.

Usage: python benchmarks/render_face_region.py [--out docs/face_region.png]
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np

from tddfa.facemodel import load_bfm
from tddfa.geometry import angles_to_rotation
from tddfa.render.maps import render_shaded


def view(model, yaw: float, size: int = 360) -> np.ndarray:
    v = model.mean.astype(np.float64) @ angles_to_rotation(yaw, 0, 0).T
    v = v - v.mean(0)
    s = 0.8 * size / np.ptp(v[:, :2], axis=0).max()
    img_pts = np.stack([v[:, 0] * s + size / 2, -v[:, 1] * s + size / 2, v[:, 2] * s], 1).astype(np.float32)
    canvas = np.full((size, size, 3), 255, np.uint8)
    out = render_shaded(canvas, [img_pts], model, alpha=1.0)
    lm = img_pts[model.keypoints]
    for x, y in lm[:, :2]:
        cv2.circle(out, (int(round(x)), int(round(y))), 2, (0, 0, 255), -1, cv2.LINE_AA)
    cv2.putText(out, f"yaw {yaw:+.0f}", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="docs/face_region.png")
    args = ap.parse_args()
    model = load_bfm()
    cv2.imwrite(args.out, np.hstack([view(model, a) for a in (0, 45, 90)]))
    print(f"{args.out}: {model.n_vertices} vertices, {model.triangles.shape[0]} triangles")


if __name__ == "__main__":
    main()
