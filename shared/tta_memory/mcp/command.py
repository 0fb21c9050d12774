"""``tta-memory mcp`` / ``python -m tta_memory.mcp``: run the MCP server or issue a token.

tta-memory mcp [--workspace W] [--user U] [--redis-url URL]          # stdio
tta-memory mcp --transport http --tokens tokens.toml [--host H] [--port P]
tta-memory mcp new-token --workspace W --user U [--name N] [--tokens tokens.toml]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
from pathlib import Path

from starlette.applications import Starlette

from tta_memory.errors import TTAMemoryError
from tta_memory.mcp.auth import (
    StaticTokenVerifier,
    TokenTable,
    new_token,
    token_entry_toml,
)
from tta_memory.mcp.server import Engines, build_server, fixed_identity, token_identity

TOKENS_ENV = "TTA_MEMORY_MCP_TOKENS"
USER_ENV = "TTA_MEMORY_USER_ID"
WORKSPACE_ENV = "TTA_MEMORY_WORKSPACE"


def http_app(
    engines: Engines, table: TokenTable, host: str, port: int, path: str = "/mcp"
) -> Starlette:
    """The streamable-HTTP application: every request must carry a known bearer token."""
    server = build_server(
        engines,
        token_identity,
        tokens=StaticTokenVerifier(table),
        public_url=f"http://{host}:{port}",
    )
    return server.streamable_http_app(streamable_http_path=path, host=host)


def _serve_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tta-memory mcp",
        description="Serve tta-memory to MCP clients (stdio, or streamable HTTP with tokens). "
        "`tta-memory mcp new-token --help` issues a token.",
    )
    p.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    p.add_argument("--redis-url", default=None, help="default: TTA_MEMORY_REDIS_URL, "
                   "REDIS_URL, else the embedded server")  # fmt: skip
    p.add_argument("--workspace", default=None, help=f"stdio: the workspace (${WORKSPACE_ENV})")
    p.add_argument("--user", default=None, help=f"stdio: the acting user (${USER_ENV})")
    p.add_argument("--tokens", default=None, help=f"http: the token file (${TOKENS_ENV})")
    p.add_argument("--host", default="127.0.0.1", help="http: address to listen on")
    p.add_argument("--port", type=int, default=8765, help="http: port to listen on")
    p.add_argument("--path", default="/mcp", help="http: endpoint path")
    return p


def _token_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tta-memory mcp new-token",
        description="Print a new bearer token for the HTTP transport and its token-file entry "
        "(only the token's SHA-256 is stored).",
    )
    p.add_argument("--workspace", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--name", default="", help="a label for the entry")
    p.add_argument("--tokens", default=None, help="append the entry to this token file")
    return p


def _new_token(argv: list[str]) -> int:
    args = _token_parser().parse_args(argv)
    token = new_token()
    entry = token_entry_toml(token, args.workspace, args.user, args.name)
    if args.tokens:
        path = Path(args.tokens)
        existed = path.exists()
        with path.open("a", encoding="utf-8") as f:
            f.write(("\n" if existed else "") + entry)
        if not existed:
            path.chmod(0o600)
        print(f"appended to {path}:", file=sys.stderr)
    print(entry, file=sys.stderr)
    print(token)  # stdout: the token alone, so it can be captured
    return 0


def _freeze_startup_objects() -> None:
    """Leave everything imported so far out of the collector's full passes (this process is
    ours; a library leaves the collector alone). A full pass over the ~80k objects of the
    imports took 35-55 ms every ~75 context loads: 10k understand / AUGSTER loads, 3 x 200
    each way, p99 47-60 ms as is, 12-13 ms frozen (p50 and p95 unchanged; docs/scaling.md)."""
    gc.collect()
    gc.freeze()


def _serve(argv: list[str]) -> int:
    args = _serve_parser().parse_args(argv)
    engines = Engines(args.redis_url)
    if args.transport == "stdio":
        resolve = fixed_identity(
            args.workspace or os.environ.get(WORKSPACE_ENV) or "default",
            args.user or os.environ.get(USER_ENV) or "default",
        )
        engines.get(resolve())  # a bad Redis URL fails here, before serving
        server = build_server(engines, resolve)
        _freeze_startup_objects()
        asyncio.run(server.run_stdio_async())
        return 0
    token_file = args.tokens or os.environ.get(TOKENS_ENV)
    if not token_file:
        raise TTAMemoryError(
            f"the HTTP transport needs a token file (--tokens or ${TOKENS_ENV}); "
            "create one with `tta-memory mcp new-token --tokens FILE ...`"
        )
    if args.workspace or args.user:
        raise TTAMemoryError(
            "over HTTP each token decides workspace and user: drop --workspace/--user"
        )
    table = TokenTable.load(token_file)
    if not len(table):
        raise TTAMemoryError(f"token file {token_file} lists no tokens")
    for granted in table.identities():  # a bad Redis URL fails here, before serving
        engines.get(granted)
    import uvicorn

    app = http_app(engines, table, args.host, args.port, args.path)
    print(
        f"tta-memory MCP on http://{args.host}:{args.port}{args.path} ({len(table)} token(s))",
        file=sys.stderr,
    )
    _freeze_startup_objects()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``tta-memory mcp`` with ``argv`` (default: the process arguments).

    Returns:
        The exit status: 0, or 2 after a configuration error (printed without traceback).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["new-token"]:
            return _new_token(argv[1:])
        return _serve(argv)
    except TTAMemoryError as exc:
        print(f"tta-memory mcp: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
