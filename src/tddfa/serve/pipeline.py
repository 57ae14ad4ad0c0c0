"""What a request computes, in a worker thread: decode -> align -> render / export, each stage timed.

Everything stays in memory except meshes, which the CLI's own writers (:func:`tddfa.io.writers.write_outputs`)
write into a private temporary folder that is removed before the answer leaves; no name from the client is
ever used as a path.
"""
from __future__ import annotations

import base64
import io
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, NoFaceError
from ..face import faces_from_params
from ..io.writers import result_dict, write_outputs
from ..io.images import to_bgr
from ..render.outputs import IMAGE_KINDS, render_kind

# the overlays the web page switches between (PNG/JPEG as the CLI writes them)
PAGE_KINDS = ("2d_sparse", "2d_dense", "3d", "depth", "pncc", "pose")
MESH_TYPES = {"glb": "model/gltf-binary", "ply": "application/x-ply", "obj": "application/zip"}


@dataclass
class Timing:
    """Milliseconds per stage, in order; ``queue`` is the wait for a worker."""

    stages: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + (time.perf_counter() - t0) * 1e3

    def server_timing(self) -> str:
        """The ``Server-Timing`` header value, e.g. ``queue;dur=0.1, decode;dur=3.2, align;dur=120.5``."""
        return ", ".join(f"{k};dur={v:.1f}" for k, v in self.stages.items())


def decode(data: bytes) -> np.ndarray:
    """Image bytes -> ``(H, W, 3)`` uint8 BGR, as the CLI reads files (16-bit, gray, alpha and CMYK included)."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError("not a readable image (corrupt, truncated or unsupported)")
    return to_bgr(img)


class Pipeline:
    """One shared :class:`tddfa.FaceAligner` and the outputs built from its faces."""

    def __init__(self, aligner):
        self.aligner = aligner
        self.model = aligner.face_model
        self.input_size = aligner.spec.input_size

    def warm_up(self) -> None:
        """Compile the numba renderers and import the mesh writers now, on the model's mean face, so that the
        first request does not wait for them (several seconds)."""
        size = self.input_size
        img = np.full((size, size, 3), 128, np.uint8)
        params = np.asarray(self.aligner.spec.param_mean, np.float32)[None]
        faces = faces_from_params(self.model, params, np.array([[0.0, 0.0, size, size]]), size=size)
        for kind in IMAGE_KINDS:
            self._encode(kind, img, faces, None, Timing())
        self._mesh(img, faces, "glb", Timing())

    def faces(self, data: bytes, timing: Timing):
        with timing.stage("decode"):
            img = decode(data)
        with timing.stage("align"):
            faces = self.aligner(img)
        if not faces:
            raise NoFaceError("no face found in the image")
        return img, faces

    def align(self, data: bytes, name: str, timing: Timing, dense: bool = False) -> dict:
        """The JSON of ``tddfa IMAGE -o json`` (``--dense`` with ``dense``)."""
        img, faces = self.faces(data, timing)
        with timing.stage("json"):
            return result_dict(faces, name, img.shape[0], img.shape[1], dense=dense)

    def render(self, data: bytes, kind: str, fmt: str | None, timing: Timing) -> tuple[bytes, str]:
        """``kind`` (one of ``IMAGE_KINDS``) encoded as ``fmt`` (``png``/``jpg``; default: the CLI's) -> bytes, type."""
        img, faces = self.faces(data, timing)
        return self._encode(kind, img, faces, fmt, timing)

    def _encode(self, kind: str, img: np.ndarray, faces, fmt: str | None, timing: Timing) -> tuple[bytes, str]:
        ext = "." + fmt if fmt else IMAGE_KINDS[kind]
        with timing.stage("render"):
            out = render_kind(kind, img, faces, self.model, self.input_size)
        with timing.stage("encode"):
            params = [cv2.IMWRITE_JPEG_QUALITY, 92] if ext == ".jpg" else []
            ok, buf = cv2.imencode(ext, out, params)
        if not ok:
            raise InputError(f"could not encode the {kind} image as {ext}")
        return buf.tobytes(), "image/jpeg" if ext == ".jpg" else "image/png"

    def mesh(self, data: bytes, fmt: str, timing: Timing) -> bytes:
        """The mesh file the CLI writes for ``-o fmt``; OBJ as a zip of its .obj, .mtl and .png texture."""
        img, faces = self.faces(data, timing)
        return self._mesh(img, faces, fmt, timing)

    def _mesh(self, img: np.ndarray, faces, fmt: str, timing: Timing) -> bytes:
        with timing.stage("mesh"), tempfile.TemporaryDirectory(prefix="tddfa-serve-") as tmp:
            files = write_outputs([fmt], img, faces, self.model, tmp, "face", input_size=self.input_size)
            if fmt != "obj":
                return Path(files[0]).read_bytes()
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for f in files:
                    zf.write(f, Path(f).name)
            return buf.getvalue()

    def analyze(self, data: bytes, name: str, timing: Timing) -> dict:
        """Everything the web page shows from one upload: the JSON result, the overlays and the GLB."""
        img, faces = self.faces(data, timing)
        with timing.stage("json"):
            result = result_dict(faces, name, img.shape[0], img.shape[1])
        images = {}
        for kind in PAGE_KINDS:
            raw, media = self._encode(kind, img, faces, None, timing)
            images[kind] = f"data:{media};base64,{base64.b64encode(raw).decode('ascii')}"
        glb = self._mesh(img, faces, "glb", timing)
        return {"result": result, "images": images, "glb": base64.b64encode(glb).decode("ascii")}

