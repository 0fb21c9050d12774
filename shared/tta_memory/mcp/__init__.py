"""tta-memory as an MCP server (the ``mcp`` extra): tools to save, search, load stage-aware
context and append to a session; PAFs as tools and resources. Stdio for one local user,
streamable HTTP with bearer tokens that each map to one workspace and user.

Run it with ``tta-memory mcp`` or ``python -m tta_memory.mcp`` (see :func:`main`).
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tta_memory.mcp.auth import Identity, StaticTokenVerifier, TokenTable, hash_token
    from tta_memory.mcp.command import http_app
    from tta_memory.mcp.server import Engines, build_server, fixed_identity, token_identity

# What the `mcp` extra brings; without it, `main` says what to install.
_EXTRA = frozenset({"mcp", "mcp_types", "uvicorn", "starlette", "httpx2"})
_LAZY = {
    "Identity": "auth",
    "StaticTokenVerifier": "auth",
    "TokenTable": "auth",
    "hash_token": "auth",
    "http_app": "command",
    "Engines": "server",
    "build_server": "server",
    "fixed_identity": "server",
    "token_identity": "server",
}


def main(argv: list[str] | None = None) -> int:
    """Run ``tta-memory mcp`` with ``argv`` (default: the process arguments).

    Returns:
        The exit status: 0, or 2 after a configuration error or without the ``mcp`` extra
        (a message, no traceback).
    """
    try:
        from tta_memory.mcp.command import main as run
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in _EXTRA:
            raise
        print(
            f"tta-memory mcp needs the MCP SDK ({exc.name} is missing): "
            "pip install 'tta-memory[mcp]'",
            file=sys.stderr,
        )
        return 2
    return run(argv)


def __getattr__(name: str) -> Any:
    # The SDK is imported on first use, so `main` can explain a missing extra.
    if name in _LAZY:
        return getattr(importlib.import_module(f"tta_memory.mcp.{_LAZY[name]}"), name)
    raise AttributeError(name)


__all__ = [
    "Engines",
    "Identity",
    "StaticTokenVerifier",
    "TokenTable",
    "build_server",
    "fixed_identity",
    "hash_token",
    "http_app",
    "main",
    "token_identity",
]
