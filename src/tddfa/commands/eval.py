"""``tddfa eval NAME``: benchmarks. Each module of ``tddfa.eval`` exposing ``register_eval(subparsers)`` adds one."""
from __future__ import annotations

import argparse
import importlib
import pkgutil

from .. import eval as eval_pkg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="benchmarks: aflw2000, detection, stability")
    s = p.add_subparsers(dest="eval_command", required=True, metavar="BENCHMARK")
    for info in sorted(pkgutil.iter_modules(eval_pkg.__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"{eval_pkg.__name__}.{info.name}")
        if hasattr(mod, "register_eval"):
            mod.register_eval(s)
