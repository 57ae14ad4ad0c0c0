"""The REST API in-process: the CLI's JSON, every output, the bad inputs, and /healthz after each."""
import asyncio
import io
import json
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from tddfa.io.writers import MESH_KINDS
from tddfa.render.outputs import IMAGE_KINDS

from .conftest import EXAMPLE

pytest.importorskip("fastapi", reason="tddfa serve needs the web extra (pip install 'tddfa[web]')")
PIL = pytest.importorskip("PIL.Image")
ROOT = Path(__file__).resolve().parents[2]


def upload(client, path: str, data: bytes, name: str = "astronaut.jpg", **kw):
    return client.post(path, files={"file": (name, data, "application/octet-stream")}, **kw)


def assert_alive(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def pil_bytes(img, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def cli_json(tmp_path_factory) -> dict:
    """``tddfa examples/astronaut.jpg -o json`` in this test run, as a subprocess."""
    out = tmp_path_factory.mktemp("cli")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-m", "tddfa", str(EXAMPLE), "-o", "json", "--out", str(out)],
                   check=True, env=env, capture_output=True, timeout=300)
    return json.loads((out / "astronaut.json").read_text())


def test_align_is_the_cli_json(client, example_bytes, cli_json):
    r = upload(client, "/v1/align", example_bytes)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    got = r.json()
    assert set(got) == set(cli_json) and got["image"] == "astronaut.jpg"
    assert (got["width"], got["height"]) == (cli_json["width"], cli_json["height"]) == (512, 512)
    assert len(got["faces"]) == len(cli_json["faces"]) >= 1
    for a, b in zip(got["faces"], cli_json["faces"]):
        assert set(a) == set(b)
        np.testing.assert_allclose(a["box"], b["box"], atol=1.0)
        np.testing.assert_allclose(a["landmarks_2d"], b["landmarks_2d"], atol=1.0)
    stages = dict(s.split(";dur=") for s in r.headers["server-timing"].split(", "))
    assert {"decode", "align", "total"} <= set(stages) and all(float(v) >= 0 for v in stages.values())
    assert_alive(client)


def test_raw_body_and_dense(client, example_bytes):
    r = client.post("/v1/align?dense=true", content=example_bytes, headers={"content-type": "image/jpeg"})
    assert r.status_code == 200
    face = r.json()["faces"][0]
    assert r.json()["image"] == "upload" and np.shape(face["vertices"])[1] == 3


def test_client_file_name_is_only_a_label(client, example_bytes, tmp_path):
    r = upload(client, "/v1/align", example_bytes, name="../../etc/passwd")
    assert r.status_code == 200 and r.json()["image"] == "passwd"
    r = upload(client, "/v1/align", example_bytes, name="C:\\Users\\x\\face.jpg")
    assert r.json()["image"] == "face.jpg"


@pytest.mark.parametrize("kind", list(IMAGE_KINDS))
def test_render_every_kind(client, example_bytes, kind):
    r = upload(client, f"/v1/render?kind={kind}", example_bytes)
    assert r.status_code == 200
    ext = IMAGE_KINDS[kind]
    assert r.headers["content-type"] == ("image/jpeg" if ext == ".jpg" else "image/png")
    img = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img is not None and img.size > 0
    if kind in ("2d_sparse", "2d_dense", "3d", "pose", "pncc", "depth"):
        assert img.shape[:2] == (512, 512)


def test_render_format_override(client, example_bytes):
    r = upload(client, "/v1/render?kind=pose&format=png", example_bytes)
    assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("fmt", list(MESH_KINDS))
def test_mesh_formats(client, example_bytes, fmt, aligner):
    n_faces = len(upload(client, "/v1/align", example_bytes).json()["faces"])
    r = upload(client, f"/v1/mesh?format={fmt}", example_bytes)
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    n_vertices = n_faces * aligner.face_model.n_vertices
    if fmt == "ply":
        assert r.content.startswith(b"ply\n") and f"element vertex {n_vertices}\n".encode() in r.content[:400]
    elif fmt == "obj":
        zf = zipfile.ZipFile(io.BytesIO(r.content))
        names = zf.namelist()
        assert sorted(Path(n).suffix for n in names) == [".mtl", ".obj", ".png"]
        obj = zf.read(next(n for n in names if n.endswith(".obj"))).decode()
        mtl = next(line.split()[1] for line in obj.splitlines() if line.startswith("mtllib"))
        assert mtl in names and obj.count("\nv ") == n_vertices
    else:
        trimesh = pytest.importorskip("trimesh")
        mesh = trimesh.load(io.BytesIO(r.content), file_type="glb", force="mesh")
        assert len(mesh.vertices) == n_vertices


def test_analyze_for_the_page(client, example_bytes):
    r = upload(client, "/v1/analyze", example_bytes)
    assert r.status_code == 200
    body = r.json()
    assert {"result", "images", "glb", "timing"} <= set(body) and len(body["result"]["faces"]) >= 1
    assert body["images"]["2d_sparse"].startswith("data:image/jpeg;base64,")
    assert body["timing"]["total"] >= body["timing"]["align"] > 0


def gray(shape, value=128) -> np.ndarray:
    return np.full(shape, value, np.uint8)


@pytest.fixture(scope="module")
def bad_inputs(example_bytes) -> dict:
    astro = PIL.open(EXAMPLE)
    sixteen = (np.asarray(astro.convert("L"), np.uint16) * 257)
    return {
        "empty": (b"", 422, "empty_upload"),
        "text": (b"hello, this is a text file\n" * 10, 415, "unsupported_media_type"),
        "truncated": (example_bytes[: len(example_bytes) // 20], 422, "unreadable_image"),
        "huge_12000x12000": (pil_bytes(PIL.new("L", (12000, 12000)), "JPEG", quality=10), 413, "too_many_pixels"),
        "no_face": (cv2.imencode(".png", gray((240, 320, 3)))[1].tobytes(), 422, "no_face"),
        "16bit_png": (pil_bytes(PIL.fromarray(sixteen), "PNG"), 200, None),
        "cmyk_jpeg": (pil_bytes(astro.convert("CMYK"), "JPEG"), 200, None),
    }


@pytest.mark.parametrize("case", ["empty", "text", "truncated", "huge_12000x12000", "no_face", "16bit_png",
                                  "cmyk_jpeg"])
def test_bad_inputs_get_json_errors_and_the_server_lives_on(client, bad_inputs, case):
    data, status, code = bad_inputs[case]
    for path in ("/v1/align", "/v1/render?kind=3d"):
        r = upload(client, path, data, name=f"{case}.bin")
        assert r.status_code == status, r.text
        if code is None:
            if path == "/v1/align":
                assert len(r.json()["faces"]) >= 1
        else:
            assert r.headers["content-type"] == "application/json" and r.json()["error"] == code
            assert r.json()["detail"]
        assert_alive(client)


def test_invalid_parameters_and_missing_field(client, example_bytes):
    r = upload(client, "/v1/render?kind=nope", example_bytes)
    assert r.status_code == 422 and r.json()["error"] == "invalid_request" and "kind" in r.json()["detail"]
    # one file part is taken whatever its name; of several, only one named "file"
    assert client.post("/v1/align", files={"image": ("a.jpg", example_bytes)}).status_code == 200
    r = client.post("/v1/align", files={"a": ("a.jpg", example_bytes), "b": ("b.jpg", example_bytes)})
    assert r.status_code == 422 and r.json()["error"] == "missing_file"
    assert client.get("/nowhere").json()["error"] == "http_error"
    assert_alive(client)


def test_upload_size_limit_413(aligner, example_bytes):
    from fastapi.testclient import TestClient

    from tddfa.serve import Limits, create_app

    small = create_app(aligner, Limits(max_upload=len(example_bytes) - 1))
    with TestClient(small) as c:
        for r in (upload(c, "/v1/align", example_bytes),
                  c.post("/v1/align", content=example_bytes, headers={"content-type": "image/jpeg"})):
            assert r.status_code == 413 and r.json()["error"] == "too_large"
        assert_alive(c)


def test_models_and_docs(client):
    m = client.get("/v1/models").json()
    assert m["render_kinds"] == list(IMAGE_KINDS) and set(m["mesh_formats"]) == set(MESH_KINDS)
    assert m["limits"]["max_upload"] == 20 * 1024 * 1024
    assert client.get("/docs").status_code == 200
    assert "/v1/align" in client.get("/openapi.json").json()["paths"]
    page = client.get("/")
    assert page.status_code == 200 and "model-viewer" in page.text
    assert client.get("/static/vendor/model-viewer.min.js").status_code == 200


def test_keep_saves_uploads_under_server_names(aligner, example_bytes, tmp_path):
    from fastapi.testclient import TestClient

    from tddfa.serve import create_app

    with TestClient(create_app(aligner, keep=tmp_path / "kept")) as c:
        assert upload(c, "/v1/align", example_bytes, name="../evil.jpg").status_code == 200
        assert upload(c, "/v1/align", b"text", name="notes.txt").status_code == 415
    kept = list((tmp_path / "kept").iterdir())
    assert len(kept) == 1 and kept[0].read_bytes() == example_bytes
    assert kept[0].name.startswith("upload-") and kept[0].suffix == ".jpg" and "evil" not in kept[0].name
    assert not (tmp_path / "evil.jpg").exists()


class BlockingAligner:
    """Stands in for FaceAligner: each call waits for ``gate``, then finds no face."""

    def __init__(self):
        self.gate = threading.Event()
        self.spec = SimpleNamespace(name="blocking", input_size=120)
        self.face_model = SimpleNamespace(name="none", triangles=np.zeros((0, 3), np.int64))
        self._detector_spec = "none"

    def __call__(self, img):
        assert self.gate.wait(30)
        return []


def test_full_queue_gets_503_and_health_still_answers(example_bytes):
    import httpx

    from tddfa.serve import Limits, create_app

    fake = BlockingAligner()
    app = create_app(fake, Limits(workers=1, queue=1))
    files = {"file": ("a.jpg", example_bytes)}

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
            first = [asyncio.create_task(c.post("/v1/align", files=files)) for _ in range(2)]
            for _ in range(500):  # until one runs and one waits
                if app.state.pool.pending == 2:
                    break
                await asyncio.sleep(0.01)
            assert app.state.pool.pending == 2
            third = await c.post("/v1/align", files=files)
            health = await c.get("/healthz")
            fake.gate.set()
            return third, health, await asyncio.gather(*first)

    try:
        third, health, first = asyncio.run(scenario())
    finally:
        fake.gate.set()
        app.state.pool.shutdown()
    assert third.status_code == 503 and third.json()["error"] == "busy"
    assert health.status_code == 200 and health.json()["pending"] == 2
    assert [r.json()["error"] for r in first] == ["no_face", "no_face"]


def test_slow_request_gets_504(example_bytes):
    from fastapi.testclient import TestClient

    from tddfa.serve import Limits, create_app

    fake = BlockingAligner()
    try:
        with TestClient(create_app(fake, Limits(timeout=0.3))) as c:
            r = upload(c, "/v1/align", example_bytes)
            assert r.status_code == 504 and r.json()["error"] == "timeout"
            fake.gate.set()
            assert_alive(c)
    finally:
        fake.gate.set()
