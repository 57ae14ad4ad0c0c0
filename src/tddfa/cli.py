"""The ``tddfa`` command. Subcommands live in ``tddfa.commands.<name>`` modules, each exposing
``register(subparsers)`` that adds its parser and sets ``func`` (``args -> int exit code``).

``tddfa IMAGE... [-o KIND...] [--out DIR]`` (no subcommand) runs the image pipeline.

Errors (docs/errors.md): one line on stderr, ``tddfa: <input>: <reason>``, and the exit code of the
exception's class (:mod:`tddfa.errors`); an unexpected exception is one ``internal error`` line with its own
code. ``--debug`` (anywhere on the command line) shows the traceback instead.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import textwrap

from . import commands
from .errors import INTERNAL_EXIT_CODE, INTERRUPTED_EXIT_CODE, OutputError, TddfaError, UsageError


def one_line(text: object) -> str:
    """``text`` on one line (the error contract: one line per error on stderr)."""
    return " ".join(str(text).split())


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit code 2, argparse's own); subparsers inherit the class."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(UsageError.exit_code, f"tddfa: {one_line(message)} (see '{self.prog} --help')\n")


# `tddfa --help` lists these first; every other command is a maintainer's (training, data, export, benchmarks)
USER_COMMANDS = ("image", "video", "webcam", "batch", "serve", "models")


def _command_list(sub: argparse._SubParsersAction) -> str:
    """The listed commands (those registered with a ``help``), users' first, maintainers' grouped after them."""
    rows = {a.dest: a.help for a in sub._choices_actions}
    width = max(map(len, rows)) + 2

    def block(title: str, names: list[str]) -> str:
        lines = [f"{title}:"]
        for n in names:
            text = textwrap.wrap(rows[n], 78 - width - 2) or [""]
            lines += [f"  {n:<{width}}{text[0]}"] + [f"  {'':<{width}}{t}" for t in text[1:]]
        return "\n".join(lines)

    users = [n for n in USER_COMMANDS if n in rows]
    maintainers = sorted(n for n in rows if n not in USER_COMMANDS)
    return block("commands", users) + "\n\n" + block("maintainer commands (training, data, export, benchmarks)",
                                                     maintainers)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="tddfa", description="3D dense face alignment on the CPU.",
                     usage="tddfa [-h] [--version] [--debug] COMMAND ...",
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"tddfa {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error (anywhere on the command line)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", help=argparse.SUPPRESS, prog="tddfa")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(mod, "register"):
            mod.register(sub)
    parser.epilog = _command_list(sub) + "\n\n'tddfa COMMAND --help' describes each; 'tddfa IMAGE...' is 'tddfa image'."
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # a global flag, also after the subcommand and its arguments
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    known = set(parser._subparsers._group_actions[0].choices) if parser._subparsers else set()  # type: ignore[union-attr]
    # no subcommand: `tddfa IMAGE...` is the image pipeline
    if argv and argv[0] not in known and argv[0] not in ("-h", "--help", "--version"):
        argv = ["image", *argv]
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    args.debug = debug
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("tddfa: interrupted", file=sys.stderr)
        return INTERRUPTED_EXIT_CODE
    except BrokenPipeError:  # `tddfa ... | head`: the reader left; nothing to report
        sys.stderr.close()
        return 0
    except Exception as exc:  # noqa: BLE001 - the contract: no traceback reaches a user
        if debug:
            raise
        print(f"tddfa: {error_line(exc)}", file=sys.stderr)
        return exit_code(exc)


def error_line(exc: BaseException) -> str:
    """The reason part of the one-line error for ``exc``."""
    if isinstance(exc, TddfaError):
        return one_line(exc)
    if isinstance(exc, MemoryError):
        return "out of memory (try a smaller input or --det-size)"
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return one_line(f"{where}{exc.strerror}")
    return one_line(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback, "
                    "and please report it)")


def exit_code(exc: BaseException) -> int:
    """The documented exit code for ``exc`` (docs/errors.md)."""
    if isinstance(exc, TddfaError):
        return exc.exit_code
    if isinstance(exc, OSError) and exc.strerror:
        return OutputError.exit_code
    return INTERNAL_EXIT_CODE


if __name__ == "__main__":
    sys.exit(main())
