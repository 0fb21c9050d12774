"""``tta-memory mcp``: the MCP server (``tta_memory.mcp``, the ``mcp`` extra)."""

from __future__ import annotations

import argparse
import importlib.util

from tta_memory.cli.errors import EXIT_UNAVAILABLE, CliError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``mcp`` command; its own options are parsed by ``tta_memory.mcp.main``."""
    p = sub.add_parser(
        "mcp",
        help="run the MCP server (stdio or streamable HTTP; `tta-memory mcp --help`)",
        description="Run the MCP server; every argument after `mcp` goes to it.",
        add_help=False,
    )
    p.add_argument("mcp_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=mcp)


def mcp(args: argparse.Namespace) -> int:
    """Hand the remaining arguments to ``tta_memory.mcp.main``."""
    if importlib.util.find_spec("mcp") is None:
        raise CliError(
            "the MCP server needs the `mcp` extra: pip install 'tta-memory[mcp]'",
            EXIT_UNAVAILABLE,
        )
    try:
        from tta_memory.mcp import main
    except ImportError as exc:
        raise CliError(
            f"the MCP server is not available in this installation ({exc}); "
            "pip install 'tta-memory[mcp]'",
            EXIT_UNAVAILABLE,
        ) from exc
    return int(main(list(args.mcp_args)) or 0)
