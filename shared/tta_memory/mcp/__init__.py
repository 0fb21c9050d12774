"""tta-memory as an MCP server (the ``mcp`` extra): tools to save, search, load stage-aware
context and append to a session; PAFs as tools and resources. Stdio for one local user,
streamable HTTP with bearer tokens that each map to one workspace and user.

Run it with ``tta-memory mcp`` or ``python -m tta_memory.mcp`` (see :func:`main`).
"""

from tta_memory.mcp.auth import Identity, StaticTokenVerifier, TokenTable, hash_token
from tta_memory.mcp.command import http_app, main
from tta_memory.mcp.server import Engines, build_server, fixed_identity, token_identity

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
