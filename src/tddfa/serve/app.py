"""The ASGI app: REST endpoints under ``/v1``, ``/healthz``, OpenAPI docs at ``/docs`` and the web page at ``/``.

Uploads are read into memory (bounded by ``Limits.max_upload``) and parsed there: multipart form field ``file``,
or the raw image as the request body. Errors are JSON ``{"error": code, "detail": message}``. Every answer of
an image endpoint carries a ``Server-Timing`` header (``queue``, ``decode``, ``align``, ... ``total``, in ms).
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import NoFaceError, TddfaError
from ..io.atomic import write_bytes
from ..render.outputs import IMAGE_KINDS
from .limits import Limits, RequestError, probe_image
from .pipeline import MESH_TYPES, Pipeline, Timing
from .pool import WorkerPool

STATIC = Path(__file__).resolve().parent / "static"
MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the file in a form upload

_UPLOAD_BODY = {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    "image/*": {"schema": {"type": "string", "format": "binary"}}}}
_ERRORS = {code: {"description": text, "content": {"application/json": {"example": {"error": "...", "detail": "..."}}}}
           for code, text in [(413, "upload or pixel count over the limit"), (415, "not a supported image type"),
                              (422, "unreadable image, no face, or invalid parameters"),
                              (503, "workers busy and queue full"), (504, "request timeout")]}


@dataclass
class Upload:
    data: bytes
    name: str  # a label for the JSON only (the file name's last part), never a path


def _error(status: int, code: str, detail: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def _label(filename: str | None) -> str:
    """The last part of a client's file name (either slash), for the JSON ``image`` field."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    return name[:255] or "upload"


def _form_file(body: bytes, content_type: str, limit: int) -> Upload:
    """The form field ``file`` (or the only file part) of a multipart body, parsed in memory."""
    from python_multipart import create_form_parser

    files = []
    # files stay in memory below MAX_MEMORY_FILE_SIZE: set above the body size, nothing spills to disk
    parser = create_form_parser({"Content-Type": content_type.encode("latin-1")}, on_field=None,
                                on_file=files.append, config={"MAX_MEMORY_FILE_SIZE": len(body) + 1})
    try:
        parser.write(body)
        parser.finalize()
    except Exception as exc:  # python-multipart raises its own errors and ValueError for bad framing
        raise RequestError(422, "bad_form", f"malformed multipart body: {exc}") from None
    named = [f for f in files if f.field_name == b"file"]
    chosen = named or (files if len(files) == 1 else [])
    if not chosen:
        raise RequestError(422, "missing_file", "send the image as form field 'file' (or as the raw request body)")
    f = chosen[0]
    f.file_object.seek(0)
    data = f.file_object.read()
    if len(data) > limit:
        raise RequestError(413, "too_large", f"the upload is {len(data):,} bytes, over the {limit:,}-byte limit")
    name = f.file_name.decode("utf-8", "replace") if f.file_name else None
    return Upload(data, _label(name))


async def read_upload(request: Request, limits: Limits) -> Upload:
    """The image bytes of a request, refused (413) as soon as the body passes the limit."""
    content_type = request.headers.get("content-type", "")
    multipart = content_type.lower().startswith("multipart/form-data")
    cap = limits.max_upload + (MULTIPART_SLACK if multipart else 0)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise RequestError(413, "too_large", f"the request body is {int(declared):,} bytes, over the "
                                             f"{limits.max_upload:,}-byte upload limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise RequestError(413, "too_large", f"the request body is over the {limits.max_upload:,}-byte upload limit")
    if multipart:
        return _form_file(bytes(body), content_type, limits.max_upload)
    return Upload(bytes(body), "upload")


def create_app(aligner, limits: Limits | None = None, keep: str | Path | None = None) -> FastAPI:
    """The app around one shared ``aligner`` (a :class:`tddfa.FaceAligner`). ``keep``: a folder where each
    accepted upload is saved under a server-made name (by default nothing is kept)."""
    limits = limits or Limits()
    pipeline = Pipeline(aligner)
    pool = WorkerPool(limits.workers, limits.queue)
    keep_dir = Path(keep) if keep is not None else None
    if keep_dir is not None:
        keep_dir.mkdir(parents=True, exist_ok=True)
    counter = itertools.count()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        pool.shutdown()

    app = FastAPI(title="tddfa", summary="3D dense face alignment: REST API and web page",
                  version=_version(), docs_url="/docs", redoc_url=None, lifespan=lifespan)
    app.state.limits, app.state.pool, app.state.pipeline = limits, pool, pipeline

    @app.exception_handler(RequestError)
    async def _request_error(request: Request, exc: RequestError):
        return _error(exc.status, exc.code, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        detail = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return _error(422, "invalid_request", detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, "http_error", str(exc.detail))

    def _keep(upload: Upload, fmt: str) -> None:
        ext = {"JPEG": "jpg", "TIFF": "tif"}.get(fmt, fmt.lower())
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        write_bytes(keep_dir / f"upload-{stamp}-{next(counter):06d}.{ext}", upload.data)

    async def _serve(request: Request, work) -> tuple[object, Timing]:
        """Read and check the upload, run ``work(pipeline, upload, timing)`` on a worker; map errors to JSON."""
        t0 = time.perf_counter()
        timing = Timing()
        try:
            upload = await asyncio.wait_for(read_upload(request, limits), limits.timeout)
        except asyncio.TimeoutError:
            raise RequestError(408, "timeout", f"the upload took more than {limits.timeout:g} s") from None
        with timing.stage("check"):
            header = probe_image(upload.data, limits)
        if keep_dir is not None:
            _keep(upload, header.format)

        def job(queued_ms: float):
            timing.stages["queue"] = queued_ms
            try:
                return work(pipeline, upload, timing)
            except NoFaceError as exc:
                raise RequestError(422, "no_face", str(exc)) from None
            except TddfaError as exc:
                raise RequestError(422, "unreadable_image", str(exc)) from None

        remaining = max(0.001, limits.timeout - (time.perf_counter() - t0))
        out = await pool.run(job, remaining)
        timing.stages["total"] = (time.perf_counter() - t0) * 1e3
        return out, timing

    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", summary="liveness and load")
    async def healthz():
        return {"status": "ok", "pending": pool.pending, "workers": limits.workers,
                "capacity": pool.capacity}

    @app.get("/v1/models", summary="the loaded models, output kinds and limits")
    async def models():
        det = aligner.detector_spec
        return {"regressor": aligner.spec.name, "input_size": aligner.spec.input_size,
                "detector": det if isinstance(det, str) else type(det).__name__,
                "face_model": pipeline.model.name, "dense": bool(pipeline.model.triangles.shape[0] > 0),
                "render_kinds": list(IMAGE_KINDS), "mesh_formats": list(MESH_TYPES), "limits": limits.as_dict()}

    @app.post("/v1/align", summary="faces as the JSON of `tddfa IMAGE -o json`", openapi_extra={"requestBody": _UPLOAD_BODY},
              responses=_ERRORS)
    async def align(request: Request, dense: bool = Query(False, description="add each face's dense vertices")):
        out, timing = await _serve(request, lambda p, u, t: p.align(u.data, u.name, t, dense=dense))
        return Response(json.dumps(out), media_type="application/json",
                        headers={"Server-Timing": timing.server_timing()})

    @app.post("/v1/render", summary="one image output as PNG or JPEG", openapi_extra={"requestBody": _UPLOAD_BODY},
              responses=_ERRORS)
    async def render(request: Request, kind: Literal[tuple(IMAGE_KINDS)] = "composite",  # type: ignore[valid-type]
                     format: Literal["png", "jpg"] | None = Query(None, description="default: the CLI's for the kind")):
        (raw, media), timing = await _serve(request, lambda p, u, t: p.render(u.data, kind, format, t))
        return Response(raw, media_type=media, headers={"Server-Timing": timing.server_timing()})

    @app.post("/v1/mesh", summary="the textured mesh: GLB, PLY, or OBJ (zip of .obj, .mtl, .png)",
              openapi_extra={"requestBody": _UPLOAD_BODY}, responses=_ERRORS)
    async def mesh(request: Request, format: Literal["glb", "ply", "obj"] = "glb"):
        raw, timing = await _serve(request, lambda p, u, t: p.mesh(u.data, format, t))
        name = f"face.{'zip' if format == 'obj' else format}"
        return Response(raw, media_type=MESH_TYPES[format], headers={
            "Server-Timing": timing.server_timing(), "Content-Disposition": f'attachment; filename="{name}"'})

    @app.post("/v1/analyze", summary="the web page's call: result JSON, overlays, GLB and per-stage timing",
              openapi_extra={"requestBody": _UPLOAD_BODY}, responses=_ERRORS)
    async def analyze(request: Request):
        out, timing = await _serve(request, lambda p, u, t: p.analyze(u.data, u.name, t))
        out["timing"] = {k: round(v, 1) for k, v in timing.stages.items()}
        return Response(json.dumps(out), media_type="application/json",
                        headers={"Server-Timing": timing.server_timing()})

    return app


def _version() -> str:
    from .. import __version__

    return __version__
