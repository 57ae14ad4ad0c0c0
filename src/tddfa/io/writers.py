"""Writers for every output kind: images (rendered), depth arrays, meshes (PLY, OBJ + MTL + texture,
GLB) and the JSON result.

File names follow the CLI contract: ``DIR/<stem>_<kind>.<ext>`` per kind, the JSON as ``DIR/<stem>.json``.
Every file is written atomically (:mod:`tddfa.io.atomic`): a failed write leaves no partial file behind, and a
filesystem error is an :class:`~tddfa.errors.OutputError` naming the file.

Mesh frame: the image frame with y flipped so that 3D viewers show the face upright and unmirrored:
``(x, height - y, z)`` in pixels (x right, y up, z towards the viewer; right-handed), triangles wound
counter-clockwise seen from outside. All faces of an image go into one mesh (one texture atlas:
face i's UV square is the i-th of N side by side).
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from ..errors import OutputError, UsageError
from ..facemodel import FaceModel
from ..render.maps import UV_SIZE, depth_map, depth_to_uint16, uv_texture
from ..render.outputs import DENSE_KINDS, IMAGE_KINDS, has_dense, render_kind, require_dense
from .atomic import TMP_PREFIX, atomic_path, write_text

MESH_KINDS = {"ply": ".ply", "obj": ".obj", "glb": ".glb"}
DATA_KINDS = {"depth16": ".png", "depth_raw": ".npy", "json": ".json"}
ALL_KINDS = tuple(IMAGE_KINDS) + tuple(DATA_KINDS) + tuple(MESH_KINDS)


# ----------------------------------------------------------------------------- meshes

def export_vertices(vertices: np.ndarray, height: int) -> np.ndarray:
    """Image-frame vertices ``(V, 3)`` -> the export frame ``(x, height - y, z)``, float32."""
    v = np.array(vertices, np.float32, copy=True)
    v[:, 1] = height - v[:, 1]
    return v


def combined_mesh(meshes: Sequence[np.ndarray], triangles: np.ndarray, height: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """All faces as one mesh in the export frame: ``(sum V, 3)`` vertices and ``(sum T, 3)`` triangles."""
    if not meshes:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64)
    n = len(meshes[0])
    verts = np.concatenate([export_vertices(v, height) for v in meshes])
    tris = np.concatenate([np.asarray(triangles, np.int64) + i * n for i in range(len(meshes))])
    return verts, tris


def atlas_uv(uv: np.ndarray, n_faces: int) -> np.ndarray:
    """UVs ``(V, 2)`` of one face -> ``(n_faces * V, 2)`` into a texture of ``n_faces`` squares side by side."""
    uv = np.asarray(uv, np.float32)
    return np.concatenate([np.stack([(i + uv[:, 0]) / n_faces, uv[:, 1]], 1) for i in range(n_faces)])


def vertex_colors(img: np.ndarray, meshes: Sequence[np.ndarray]) -> np.ndarray:
    """Image colours (RGB uint8, bilinear) at each vertex's image position, ``(sum V, 3)``."""
    if not meshes:
        return np.zeros((0, 3), np.uint8)
    xy = np.concatenate([np.asarray(v, np.float32)[:, :2] for v in meshes])
    # cv2.remap limits maps to 32767 columns: lay the points out as rows of 1024
    n = len(xy)
    pad = np.zeros((-n % 1024, 2), np.float32)
    grid = np.concatenate([xy, pad]).reshape(-1, 1024, 2)
    bgr = cv2.remap(img, np.ascontiguousarray(grid[..., 0]), np.ascontiguousarray(grid[..., 1]),
                    cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1, 3)[:n]
    return np.ascontiguousarray(bgr[:, ::-1])


def write_ply(path: str | Path, vertices: np.ndarray, triangles: np.ndarray, colors: np.ndarray | None = None
              ) -> Path:
    """Binary little-endian PLY: float x, y, z (+ uchar red, green, blue) and triangle faces."""
    path = Path(path)
    v = np.asarray(vertices, np.float32)
    t = np.asarray(triangles, np.int64)
    props = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if colors is not None:
        props += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    vert = np.empty(len(v), dtype=props)
    vert["x"], vert["y"], vert["z"] = v[:, 0], v[:, 1], v[:, 2]
    if colors is not None:
        c = np.asarray(colors, np.uint8)
        vert["red"], vert["green"], vert["blue"] = c[:, 0], c[:, 1], c[:, 2]
    face = np.empty(len(t), dtype=[("n", "u1"), ("idx", "<i4", (3,))])
    face["n"] = 3
    face["idx"] = t
    header = ["ply", "format binary_little_endian 1.0", "comment tddfa: image frame, y flipped up (x, H - y, z)",
              f"element vertex {len(v)}", "property float x", "property float y", "property float z"]
    if colors is not None:
        header += ["property uchar red", "property uchar green", "property uchar blue"]
    header += [f"element face {len(t)}", "property list uchar int vertex_indices", "end_header"]
    with _writing(path), atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(("\n".join(header) + "\n").encode("ascii"))
        f.write(vert.tobytes())
        f.write(face.tobytes())
    return path


def write_obj(path: str | Path, vertices: np.ndarray, triangles: np.ndarray, uv: np.ndarray,
              texture: np.ndarray) -> list[Path]:
    """Wavefront OBJ with ``vt`` and ``f v/vt`` indices, its ``.mtl`` and the texture as ``.png``
    (same name as the OBJ). ``texture`` is uint8 BGR. Returns the three paths."""
    path = Path(path)
    mtl, png = path.with_suffix(".mtl"), path.with_suffix(".png")
    _imwrite(png, texture)
    _write_text(mtl, "# tddfa face texture\nnewmtl face\nKa 1.000 1.000 1.000\nKd 1.000 1.000 1.000\n"
                   f"Ks 0.000 0.000 0.000\nd 1.0\nillum 1\nmap_Kd {png.name}\n")
    v = np.asarray(vertices, np.float32)
    t = np.asarray(triangles, np.int64) + 1  # OBJ indices are 1-based
    lines = [f"# tddfa: {len(v)} vertices, {len(t)} triangles; image frame with y flipped up (x, H - y, z)",
             f"mtllib {mtl.name}", "o face"]
    uv = np.asarray(uv, np.float32)
    # one C-level %-format per block is ~10x faster than a Python loop over lines
    body = "\n".join(lines) + "\n"
    body += ("v %.3f %.3f %.3f\n" * len(v)) % tuple(v.ravel().tolist())
    body += ("vt %.6f %.6f\n" * len(uv)) % tuple(uv.ravel().tolist())
    body += "usemtl face\n"
    body += ("f %d/%d %d/%d %d/%d\n" * len(t)) % tuple(np.repeat(t, 2, axis=1).ravel().tolist())
    _write_text(path, body)
    return [path, mtl, png]


def write_glb(path: str | Path, vertices: np.ndarray, triangles: np.ndarray, uv: np.ndarray,
              texture: np.ndarray) -> Path:
    """Binary glTF (one file, texture embedded) through trimesh (``pip install 'tddfa[mesh]'``)."""
    check_extras(["glb"])
    import trimesh
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(texture[:, :, ::-1]))
    # an explicit PBR material: trimesh's default from a bare image dims the texture (base colour 0.4) and leaves
    # glTF's default metallic 1.0, which renders skin near-black in viewers without an environment map
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=image, baseColorFactor=[255, 255, 255, 255],
                                                   metallicFactor=0.0, roughnessFactor=1.0)
    visual = trimesh.visual.TextureVisuals(uv=np.asarray(uv, np.float64), material=material)
    mesh = trimesh.Trimesh(vertices=np.asarray(vertices, np.float64), faces=np.asarray(triangles, np.int64),
                           visual=visual, process=False)
    path = Path(path)
    data = mesh.export(file_type="glb")
    with _writing(path), atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


# ----------------------------------------------------------------------------- json

def result_dict(faces, image_name: str, height: int, width: int, dense: bool = False) -> dict:
    """The machine-readable result: image name and size, and per face ``Face.to_dict()``
    (box, score, roi, params 62, landmarks_2d 68x2, landmarks_3d 68x3, pose {yaw, pitch, roll});
    with ``dense`` also ``vertices`` (V x 3, image frame)."""
    out = []
    for f in faces:
        d = f.to_dict()
        if dense:
            d["vertices"] = np.asarray(f.vertices, np.float32).round(2).tolist()
        out.append(d)
    return {"image": image_name, "width": int(width), "height": int(height), "faces": out}


# ----------------------------------------------------------------------------- all kinds

def output_path(out_dir: Path, stem: str, kind: str) -> Path:
    if kind == "json":
        return out_dir / f"{stem}.json"
    ext = IMAGE_KINDS.get(kind) or MESH_KINDS.get(kind) or DATA_KINDS[kind]
    return out_dir / f"{stem}_{kind}{ext}"


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Filesystem errors while writing ``path`` -> one :class:`OutputError` naming it."""
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None


def _write_text(path: Path, text: str) -> Path:
    with _writing(path):
        return write_text(path, text)


def _imwrite(path: Path, img: np.ndarray) -> Path:
    params = [cv2.IMWRITE_JPEG_QUALITY, 92] if path.suffix == ".jpg" else []
    with _writing(path), atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), img, params):
            raise OutputError(f"{path}: could not encode the image")
    return path


def check_kinds(kinds: Sequence[str]) -> None:
    """Unknown kinds -> :class:`UsageError`, before anything is written."""
    bad = [k for k in kinds if k not in ALL_KINDS]
    if bad:
        raise UsageError(f"unknown output kind(s) {', '.join(bad)}; choose from {', '.join(ALL_KINDS)}")


def check_extras(kinds: Sequence[str]) -> None:
    """The optional packages the kinds need (``glb``: trimesh and Pillow) -> :class:`OutputError` if missing."""
    if "glb" not in kinds:
        return
    try:
        import trimesh  # noqa: F401
        from PIL import Image  # noqa: F401
    except ImportError as exc:
        raise OutputError(f"glb export needs trimesh and Pillow ({exc.name} is missing): "
                          "pip install 'tddfa[mesh]'") from None


def require_dense_kinds(kinds: Sequence[str], model: FaceModel) -> None:
    """:class:`UsageError` when ``kinds`` (``"vertices"`` counts too) need the dense face model that ``model``
    lacks (a 68-keypoint model), before any file is written."""
    dense_only = DENSE_KINDS | set(MESH_KINDS) | {"depth16", "depth_raw", "vertices"}
    need = [k for k in kinds if k in dense_only]
    if need and not has_dense(model):
        raise UsageError(f"output(s) {', '.join(need)} need a dense face model, but model '{model.name}' has only "
                         "68 keypoints (add --face-model bfm, or use the default model)")


def planned_paths(kinds: Sequence[str], out_dir: str | Path, stem: str) -> list[Path]:
    """Every file :func:`write_outputs` may write for one image (``obj`` also writes its ``.mtl`` and ``.png``)."""
    out: list[Path] = []
    for kind in kinds:
        path = output_path(Path(out_dir), stem, kind)
        out += [path, path.with_suffix(".mtl"), path.with_suffix(".png")] if kind == "obj" else [path]
    return out


def prepare_out_dir(out_dir: str | Path, hint: str = "") -> Path:
    """Create ``out_dir`` if needed and check that files can be created in it (:class:`OutputError` if not)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: exists and is not a folder{hint}")
    with _writing(out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=TMP_PREFIX, dir=out_dir)  # creating a file is the only sure test
        os.close(fd)
        os.unlink(probe)
    return out_dir


def write_outputs(kinds: Sequence[str], img: np.ndarray, faces, model: FaceModel, out_dir: str | Path,
                  stem: str, image_name: str = "", dense_json: bool = False, input_size: int = 120
                  ) -> list[Path]:
    """Write every requested kind for one image; returns the files written."""
    check_kinds(kinds)
    check_extras(kinds)
    out_dir = prepare_out_dir(out_dir)
    h, w = img.shape[:2]
    written: list[Path] = []
    meshes = None
    texture = None
    for kind in kinds:
        path = output_path(out_dir, stem, kind)
        if kind in IMAGE_KINDS:
            written.append(_imwrite(path, render_kind(kind, img, faces, model, input_size)))
        elif kind == "json":
            data = result_dict(faces, image_name or stem, h, w, dense=dense_json and has_dense(model))
            written.append(_write_text(path, json.dumps(data)))
        elif kind in ("depth16", "depth_raw"):
            require_dense(kind, model)
            meshes = meshes if meshes is not None else [np.asarray(f.vertices, np.float32) for f in faces]
            depth = depth_map(meshes, model, h, w)
            if kind == "depth16":
                written.append(_imwrite(path, depth_to_uint16(depth)))
            else:
                with _writing(path), atomic_path(path) as tmp:
                    np.save(tmp, depth)
                written.append(path)
        elif kind in MESH_KINDS:
            require_dense(kind, model)
            if not faces:
                continue  # no mesh to write
            meshes = meshes if meshes is not None else [np.asarray(f.vertices, np.float32) for f in faces]
            verts, tris = combined_mesh(meshes, model.triangles, h)
            if kind == "ply":
                written.append(write_ply(path, verts, tris, vertex_colors(img, meshes)))
                continue
            if texture is None:
                texture = np.concatenate(uv_texture(img, meshes, model, UV_SIZE), axis=1)
            uv = atlas_uv(model.uv, len(meshes))
            if kind == "obj":
                written += write_obj(path, verts, tris, uv, texture)
            else:
                written.append(write_glb(path, verts, tris, uv, texture))
    return written
