"""The ``tddfa`` command. Subcommands live in ``tddfa.commands.<name>`` modules, each exposing
``register(subparsers)`` that adds its parser and sets ``func`` (``args -> int exit code``).

``tddfa IMAGE... [-o KIND...] [--out DIR]`` (no subcommand) runs the image pipeline.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import commands
from .errors import TddfaError


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="tddfa", description="3D dense face alignment on the CPU.")
    parser.add_argument("--version", action="version", version=f"tddfa {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(mod, "register"):
            mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    known = set(parser._subparsers._group_actions[0].choices) if parser._subparsers else set()  # type: ignore[union-attr]
    # no subcommand: `tddfa IMAGE...` is the image pipeline
    if argv and argv[0] not in known and argv[0] not in ("-h", "--help", "--version"):
        argv = ["image", *argv]
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except TddfaError as exc:
        print(f"tddfa: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tddfa: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
