"""Exports parse back: PLY and OBJ (with UVs, material and texture) through trimesh, GLB, JSON, files."""
import json
from types import SimpleNamespace

import numpy as np
import pytest

from tddfa.facemodel import FaceModel
from tddfa.io.writers import (ALL_KINDS, atlas_uv, combined_mesh, export_vertices, output_path, write_obj,
                             write_outputs, write_ply)

trimesh = pytest.importorskip("trimesh", reason="trimesh not installed (pip install 'tddfa[mesh]')")


def grid_model(n: int = 8) -> FaceModel:
    g = np.linspace(-1, 1, n)
    x, y = np.meshgrid(g, g[::-1])
    mean = np.c_[x.ravel(), y.ravel(), 0.4 * (1 - x.ravel() ** 2 - y.ravel() ** 2)].astype(np.float32)
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:], idx[:-1, :-1]
    tri = np.concatenate([np.c_[a.ravel(), b.ravel(), c.ravel()], np.c_[a.ravel(), c.ravel(), d.ravel()]])
    return FaceModel(mean=mean, basis=np.zeros((3 * n * n, 50), np.float32), triangles=tri.astype(np.int32),
                     keypoints=np.arange(68) % (n * n), uv=((mean[:, :2] + 1) / 2).astype(np.float32),
                     param_mean=np.zeros(62, np.float32), param_std=np.ones(62, np.float32), name="grid")


def fake_face(model: FaceModel, cx: float, cy: float, s: float = 20.0):
    m = model.mean
    verts = np.c_[m[:, 0] * s + cx, -m[:, 1] * s + cy, m[:, 2] * s].astype(np.float32)
    lm = verts[model.keypoints]
    params = np.zeros(62, np.float32)
    params[[0, 5, 10]] = 1.0
    d = {"box": [cx - s, cy - s, cx + s, cy + s], "score": 0.9, "params": params.tolist(),
         "landmarks_2d": lm[:, :2].tolist(), "landmarks_3d": lm.tolist(),
         "pose": {"yaw": 1.0, "pitch": 2.0, "roll": 3.0}}
    roi = np.array([cx - s, cy - s, cx + s, cy + s])
    return SimpleNamespace(vertices=verts, landmarks_3d=lm, params=params, roi=roi, pose=np.array([1.0, 2.0, 3.0]), to_dict=lambda: dict(d))


@pytest.fixture
def scene(rng):
    model = grid_model()
    img = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    return img, model, [fake_face(model, 30, 32), fake_face(model, 70, 30, 15)]


def test_ply_parses_back_to_the_same_mesh_and_colours(tmp_path, scene):
    img, model, faces = scene
    verts, tris = combined_mesh([f.vertices for f in faces], model.triangles, img.shape[0])
    colors = np.arange(len(verts) * 3).reshape(-1, 3) % 256
    write_ply(tmp_path / "m.ply", verts, tris, colors)
    mesh = trimesh.load(tmp_path / "m.ply", process=False)
    np.testing.assert_allclose(mesh.vertices, verts, atol=1e-5)
    np.testing.assert_array_equal(mesh.faces, tris)
    np.testing.assert_array_equal(mesh.visual.vertex_colors[:, :3], colors)


def test_obj_parses_back_with_uvs_material_and_texture(tmp_path, scene):
    img, model, faces = scene
    verts, tris = combined_mesh([f.vertices for f in faces], model.triangles, img.shape[0])
    uv = atlas_uv(model.uv, 2)
    tex = np.zeros((16, 32, 3), np.uint8)
    tex[:, 16:] = (0, 0, 255)  # face 2's square is red (BGR)
    paths = write_obj(tmp_path / "m_obj.obj", verts, tris, uv, tex)
    assert [p.name for p in paths] == ["m_obj.obj", "m_obj.mtl", "m_obj.png"]
    mesh = trimesh.load(tmp_path / "m_obj.obj", process=False, maintain_order=True)
    np.testing.assert_allclose(mesh.vertices, verts, atol=1e-3)
    np.testing.assert_array_equal(mesh.faces, tris)
    np.testing.assert_allclose(mesh.visual.uv, uv, atol=1e-5)
    try:
        import PIL  # noqa: F401  (trimesh needs Pillow to load the texture)
    except ImportError:
        pass
    else:
        image = mesh.visual.material.image  # the .mtl's map_Kd resolved to the texture file
        assert image is not None and image.size == (32, 16)
        assert tuple(np.asarray(image.convert("RGB"))[8, 24]) == (255, 0, 0)
    # the text itself: every face line references vt indices equal to its v indices
    lines = (tmp_path / "m_obj.obj").read_text().splitlines()
    assert "mtllib m_obj.mtl" in lines and "usemtl face" in lines
    f0 = next(ln for ln in lines if ln.startswith("f "))
    assert all(a == b for a, b in (c.split("/") for c in f0.split()[1:]))
    assert "map_Kd m_obj.png" in (tmp_path / "m_obj.mtl").read_text()
    import cv2

    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "m_obj.png")), tex)


def test_export_frame_flips_y_and_keeps_outward_normals(scene):
    img, model, faces = scene
    v = export_vertices(faces[0].vertices, img.shape[0])
    np.testing.assert_allclose(v[:, 1], img.shape[0] - faces[0].vertices[:, 1])
    mesh = trimesh.Trimesh(v, model.triangles, process=False)
    assert (mesh.face_normals[:, 2] > 0.5).all()  # faces the viewer (+z) in a right-handed y-up frame


def test_write_outputs_names_every_kind(tmp_path, scene):
    img, model, faces = scene
    kinds = [k for k in ALL_KINDS if k != "glb"]
    files = write_outputs(kinds, img, faces, model, tmp_path, "pic", image_name="pic.jpg", dense_json=True)
    names = {p.name for p in files}
    for k in kinds:
        assert output_path(tmp_path, "pic", k).name in names
    assert "pic.json" in names and "pic_obj.mtl" in names and "pic_obj.png" in names
    assert all(p.exists() and p.stat().st_size > 0 for p in files)
    data = json.loads((tmp_path / "pic.json").read_text())
    assert data["image"] == "pic.jpg" and len(data["faces"]) == 2
    f0 = data["faces"][0]
    for key in ("box", "score", "params", "landmarks_2d", "landmarks_3d", "pose"):
        assert key in f0
    assert len(f0["params"]) == 62 and np.shape(f0["landmarks_2d"]) == (68, 2)
    assert np.shape(f0["landmarks_3d"]) == (68, 3) and set(f0["pose"]) == {"yaw", "pitch", "roll"}
    assert np.shape(f0["vertices"]) == (64, 3)
    depth = np.load(tmp_path / "pic_depth_raw.npy")
    assert depth.shape == img.shape[:2] and np.isfinite(depth).any()
    mesh = trimesh.load(tmp_path / "pic_ply.ply", process=False)
    assert len(mesh.vertices) == 128 and len(mesh.faces) == 2 * len(model.triangles)


def test_glb_round_trip(tmp_path, scene):
    pytest.importorskip("PIL", reason="Pillow not installed (pip install 'tddfa[mesh]')")
    img, model, faces = scene
    (path,) = write_outputs(["glb"], img, faces, model, tmp_path, "pic")
    assert path.name == "pic_glb.glb"
    scene3d = trimesh.load(path)
    mesh = scene3d.to_geometry() if hasattr(scene3d, "to_geometry") else scene3d.dump(concatenate=True)
    assert len(mesh.faces) == 2 * len(model.triangles)
    assert mesh.visual.uv is not None and mesh.visual.material.baseColorTexture is not None


def test_glb_material_shows_the_texture_unchanged(tmp_path, scene):
    # glTF defaults metallic to 1.0: a texture on a metal without an environment map renders near-black
    import json
    import struct

    pytest.importorskip("PIL", reason="Pillow not installed (pip install 'tddfa[mesh]')")
    img, model, faces = scene
    (path,) = write_outputs(["glb"], img, faces, model, tmp_path, "pic")
    data = path.read_bytes()
    (material,) = json.loads(data[20:20 + struct.unpack("<I", data[12:16])[0]])["materials"]
    pbr = material["pbrMetallicRoughness"]
    assert pbr["metallicFactor"] == 0.0
    assert pbr.get("baseColorFactor", [1.0] * 4) == [1.0, 1.0, 1.0, 1.0]


def test_sparse_model_refuses_dense_kinds(tmp_path, scene):
    from tddfa.errors import InputError

    img, model, faces = scene
    sparse = FaceModel(mean=model.mean[:8], basis=np.zeros((3 * 8, 50), np.float32),
                       triangles=np.zeros((0, 3), np.int32), keypoints=np.arange(68) % 8,
                       uv=np.zeros((8, 2), np.float32), param_mean=np.zeros(62, np.float32),
                       param_std=np.ones(62, np.float32), name="sparse")
    with pytest.raises(InputError, match="dense face model"):
        write_outputs(["obj"], img, faces, sparse, tmp_path, "pic")
    files = write_outputs(["2d_sparse", "json"], img, faces, sparse, tmp_path, "pic")
    assert [p.name for p in files] == ["pic_2d_sparse.jpg", "pic.json"]


@pytest.mark.parametrize("kind", ["json", "ply", "obj", "depth_raw", "pncc"])
def test_a_failed_write_leaves_no_file_behind(tmp_path, scene, monkeypatch, kind):
    """A write that fails part way (a full disk) is an OutputError naming the file; no partial file is left."""
    import os

    from tddfa.errors import OutputError
    from tddfa.io import atomic

    img, model, faces = scene
    real_replace = os.replace

    def full_disk(src, dst):  # the data is in the temporary file; publishing it fails
        with open(src, "r+b") as f:
            f.truncate(max(f.seek(0, 2) // 2, 1))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full_disk)
    with pytest.raises(OutputError, match="No space left on device"):
        write_outputs([kind], img, faces, model, tmp_path, "pic")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    assert write_outputs([kind], img, faces, model, tmp_path, "pic")


def test_unknown_kinds_are_refused_before_writing(tmp_path, scene):
    from tddfa.errors import UsageError

    img, model, faces = scene
    with pytest.raises(UsageError, match="hologram"):
        write_outputs(["json", "hologram"], img, faces, model, tmp_path / "out", "pic")
    assert not (tmp_path / "out").exists()
