"""Make the README gallery: every image output for the bundled example, as ``docs/gallery/*.jpg``,
plus ``docs/gallery/gallery.md`` (a markdown table to paste into the README).

    python benchmarks/make_gallery.py                      # shipped model and detector
    python benchmarks/make_gallery.py --reference ../shared/data/reference/3ddfa_v2 --face-model bfm

Each tile is cropped around the face(s) so details show; ``composite`` is the whole image.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tddfa.api import FaceAligner  # noqa: E402
from tddfa.io.writers import vertex_colors  # noqa: E402
from tddfa.io.images import read_image  # noqa: E402
from tddfa.render.outputs import has_dense, render_kind  # noqa: E402
from tddfa.render.rasterize import rasterize_box  # noqa: E402
from tddfa.render.shading import lambert, vertex_normals  # noqa: E402

CAPTIONS = {
    "2d_sparse": "68 landmarks",
    "2d_dense": "dense vertices (every 6th, visible ones)",
    "3d": "shaded mesh, alpha-blended",
    "depth": "depth (near = bright)",
    "pncc": "PNCC (normalised mean-shape xyz as RGB)",
    "pose": "head pose: posed box and yaw / pitch / roll",
    "uv_tex": "UV texture (256 x 256)",
    "mesh": "the exported mesh (OBJ/PLY/GLB), turned 40 degrees",
    "composite": "default output (composite)",
}
TILE_HEIGHT = 320


def face_crop(faces, shape, margin: float = 0.7) -> tuple[int, int, int, int]:
    """A square around all faces' ROIs, grown by ``margin``, clipped to the image."""
    r = np.array([f.roi for f in faces], np.float64)
    x1, y1, x2, y2 = r[:, 0].min(), r[:, 1].min(), r[:, 2].max(), r[:, 3].max()
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * (1 + margin) / 2
    h, w = shape[:2]
    return (int(max(cx - half, 0)), int(max(cy - half, 0)), int(min(cx + half, w)), int(min(cy + half, h)))


def turned_mesh(img: np.ndarray, faces, model, yaw_deg: float = 40.0) -> np.ndarray:
    """The dense meshes with the image's colours, shaded, turned about their vertical axis, on grey."""
    a = np.radians(yaw_deg)
    rot = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]], np.float32)
    meshes, cols = [], []
    for f in faces:
        v = np.asarray(f.vertices, np.float32)
        c = v.mean(axis=0)
        turned = (v - c) @ rot.T + c
        shade = lambert(vertex_normals(turned, model.triangles), color=(1, 1, 1), ambient=0.55, diffuse=0.45)
        meshes.append(turned)
        cols.append(vertex_colors(img, [v])[:, ::-1].astype(np.float32) * shade)  # RGB -> BGR, lit
    out = np.full_like(img, 60)
    buf, depth, (x0, y0) = rasterize_box(meshes, model.triangles, cols, *img.shape[:2])
    roi = out[y0:y0 + depth.shape[0], x0:x0 + depth.shape[1]]
    np.copyto(roi, np.clip(buf, 0, 255).astype(np.uint8), where=np.isfinite(depth)[:, :, None])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--image", default=str(ROOT / "examples" / "astronaut.jpg"))
    ap.add_argument("--out", default=str(ROOT / "docs" / "gallery"))
    ap.add_argument("--model", default="default")
    ap.add_argument("--detector", default="default")
    ap.add_argument("--reference", help="3DDFA_V2 checkpoints DIR: model and detector from there")
    ap.add_argument("--face-model", choices=["auto", "bfm"], default="auto",
                    help="'bfm': dense BFM face model with a 68-keypoint regressor (development)")
    ap.add_argument("--box", help="x1,y1,x2,y2: use this face box instead of the detector")
    args = ap.parse_args(argv)

    model, detector = args.model, args.detector
    if args.reference:
        model = detector = f"reference:{args.reference}"
    if args.box:
        box = np.array([[*map(float, args.box.split(",")), 1.0]], np.float32)
        detector = lambda img: box  # noqa: E731
    face_model = None
    if args.face_model == "bfm":
        from tddfa.facemodel import load_bfm

        face_model = load_bfm()
    aligner = FaceAligner(model=model, detector=detector, face_model=face_model)
    img = read_image(args.image)
    faces = aligner(img)
    if not faces:
        print(f"no face found in {args.image}", file=sys.stderr)
        return 1
    fm = aligner.face_model
    kinds = ["2d_sparse", "pose"]
    if has_dense(fm):
        kinds += ["2d_dense", "3d", "depth", "pncc", "mesh", "uv_tex"]
    kinds.append("composite")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    x1, y1, x2, y2 = face_crop(faces, img.shape)
    stem = Path(args.image).stem
    rows = []
    for kind in kinds:
        if kind == "mesh":
            tile = turned_mesh(img, faces, fm)
        else:
            tile = render_kind(kind, img, faces, fm, aligner.spec.input_size)
        if kind not in ("uv_tex", "composite"):
            tile = tile[y1:y2, x1:x2]
        if kind != "composite":
            s = TILE_HEIGHT / tile.shape[0]
            tile = cv2.resize(tile, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC if s > 1 else cv2.INTER_AREA)
        path = out_dir / f"{stem}_{kind}.jpg"
        cv2.imwrite(str(path), tile, [cv2.IMWRITE_JPEG_QUALITY, 90])
        rows.append((kind, path.name))
        print(f"wrote {path}")
    md = ["| output | image |", "|---|---|"]
    md += [f"| `{k}`: {CAPTIONS[k]} | ![{k}](docs/gallery/{name}) |" for k, name in rows]
    head = (f"Made by `python benchmarks/make_gallery.py` from `{Path(args.image).name}` with model "
            f"`{aligner.spec.name}` and face model `{fm.name}`.\n\n")
    (out_dir / "gallery.md").write_text(head + "\n".join(md) + "\n")
    print(head + "\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
