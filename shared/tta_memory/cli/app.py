"""The ``tta-memory`` entry point: parse, dispatch, and turn every error into one line and an
exit code (see :mod:`tta_memory.cli.errors`); ``--debug`` shows the traceback instead."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from tta_memory.cli import common
from tta_memory.cli import demo as demo_cmd
from tta_memory.cli import doctor as doctor_cmd
from tta_memory.cli import mcp as mcp_cmd
from tta_memory.cli import paf as paf_cmd
from tta_memory.cli import server as server_cmd
from tta_memory.cli import transfer as transfer_cmd
from tta_memory.cli import workspace as workspace_cmd
from tta_memory.cli.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    describe,
)

PROG = "tta-memory"


def version() -> str:
    """The engine's version (``tta_memory._version``: no metadata scan, so ``--version`` is as
    fast as ``--help``)."""
    from tta_memory._version import __version__

    return __version__


class _Version(argparse.Action):
    """``--version``, resolved only when asked (the metadata lookup costs a few ms)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> None:
        print(f"{PROG} {version()} (Python {sys.version.split()[0]})")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command (exposed for docs and tests)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Layered memory for LLM agents on Redis: server, diagnostics, demo, "
        "transfer, workspaces, MCP.",
        epilog="Exit codes: 0 ok, 1 refused or a check failed, 2 usage, 3 bad input, "
        "4 cannot write output, 5 Redis unreachable, 70 internal error, 130 interrupted, "
        "141 output closed.",
    )
    parser.add_argument("--version", action=_Version)
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (and debug logs)"
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in (
        server_cmd,
        doctor_cmd,
        demo_cmd,
        paf_cmd,
        transfer_cmd,
        workspace_cmd,
        mcp_cmd,
    ):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tta-memory`` command line.

    Args:
        argv: Arguments without the program name; default ``sys.argv[1:]``.

    Returns:
        The exit code (see :mod:`tta_memory.cli.errors`).
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    # Offline model, no download progress bars in the command's output.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    debug = "--debug" in args_list[: _command_index(args_list)]
    common.current = None
    try:
        return _dispatch(args_list, debug)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        print(f"{PROG}: output closed by the reader; stopped early", file=sys.stderr)
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        if debug:
            raise
        message, code = describe(exc, common.current)
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return code


def _command_index(args: list[str]) -> int:
    """Index of the command name (the first argument that is not an option)."""
    return next((i for i, a in enumerate(args) if not a.startswith("-")), len(args))


def _dispatch(args_list: list[str], debug: bool) -> int:
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    at = _command_index(args_list)
    if at < len(args_list) and args_list[at] == "mcp":
        # Everything after `mcp` is the MCP server's own command line.
        return mcp_cmd.mcp(argparse.Namespace(mcp_args=args_list[at + 1 :]))
    parser = build_parser()
    args = parser.parse_args(args_list)
    if not hasattr(args, "func"):
        parser.print_help()
        return EXIT_USAGE
    code = int(args.func(args) or 0)
    sys.stdout.flush()  # a closed pipe surfaces here, inside the handler
    return code


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
