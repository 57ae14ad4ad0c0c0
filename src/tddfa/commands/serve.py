"""``tddfa serve [--host 127.0.0.1] [--port 7860]``: the web page and REST API (``pip install "tddfa[web]"``)."""
from __future__ import annotations

import argparse
import socket

from ..errors import InputError, TddfaError
from .options import add_model_options, build_aligner


def register(sub: argparse._SubParsersAction) -> None:
    from ..serve.limits import Limits

    d = Limits()
    p = sub.add_parser("serve", help="run the local web page and REST API (needs tddfa[web])",
                       description="Serve the web page at / and the REST API under /v1 (docs at /docs) with one "
                                   "set of models shared by all requests. Binds loopback unless --host says otherwise.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860; 0 picks a free one)")
    add_model_options(p, threads_type=int)
    p.add_argument("--workers", type=int, default=d.workers, metavar="N",
                   help=f"requests computed at once (default {d.workers})")
    p.add_argument("--queue", type=int, default=d.queue, metavar="N",
                   help=f"requests that may wait for a worker; beyond that: 503 (default {d.queue})")
    p.add_argument("--max-upload-mb", type=float, default=d.max_upload / 2**20, metavar="MB",
                   help=f"largest image file (default {d.max_upload / 2**20:g} MB)")
    p.add_argument("--max-pixels", type=int, default=d.max_pixels, metavar="N",
                   help=f"largest width x height, checked from the header before decoding (default {d.max_pixels:,})")
    p.add_argument("--timeout", type=float, default=d.timeout, metavar="S",
                   help=f"seconds per request, upload included (default {d.timeout:g})")
    p.add_argument("--keep", metavar="DIR", help="save each accepted upload in DIR (default: nothing is kept)")
    p.add_argument("--no-warm-up", action="store_true",
                   help="start at once; the first request then compiles the renderers (a few seconds)")
    p.add_argument("--no-access-log", action="store_true", help="no line per request (lines never hold image data)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..serve.app import create_app
    except ImportError as exc:
        raise TddfaError(f"tddfa serve needs the web extra ({exc.name} is missing): pip install 'tddfa[web]'") from None
    from ..serve.limits import Limits

    if min(args.threads, args.workers) < 1 or args.queue < 0 or args.timeout <= 0 or args.max_pixels < 1:
        raise InputError("--threads and --workers must be >= 1, --queue >= 0, --timeout and --max-pixels > 0")
    aligner = build_aligner(args)  # every model loaded now: the first request should not pay for it
    limits = Limits(max_upload=int(args.max_upload_mb * 2**20), max_pixels=args.max_pixels, timeout=args.timeout,
                    workers=args.workers, queue=args.queue)
    app = create_app(aligner, limits, keep=args.keep)
    if not args.no_warm_up:
        print("tddfa serve: compiling the renderers (a few seconds) ...", flush=True)
        app.state.pipeline.warm_up()
    config = uvicorn.Config(app, host=args.host, port=args.port, access_log=not args.no_access_log,
                            timeout_keep_alive=5, log_level="info")
    # bind here, so that the printed URL has the real port (also with --port 0)
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        raise InputError(f"cannot bind {args.host}:{args.port}: {exc.strerror}") from None
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"tddfa serve: http://{host}:{port}/ (API docs at /docs; models: {aligner.spec.name}; Ctrl+C stops)",
          flush=True)
    uvicorn.Server(config).run(sockets=[sock])
    return 0
