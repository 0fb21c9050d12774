"""The MCP server: the engine's memory as tools (and PAFs as resources) for coding agents.

Every tool acts as one identity (workspace and user). Over stdio it is the one the server was
started with; over HTTP it comes from the request's bearer token (see :mod:`.auth`), so a
token can never reach another workspace: no tool takes a workspace or user argument.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from pydantic import BaseModel, Field, ValidationError

from tta_memory import (
    PAF,
    DeepMemory,
    MemoryWorkflowPrimitive,
    NotFoundError,
    RenderedContext,
    SessionMessage,
    Settings,
    TTAMemoryError,
    WorkflowContext,
    fit_context,
)
from tta_memory.mcp.auth import Identity, StaticTokenVerifier, identity_of
from tta_memory.paf_text import pafs_prompt
from tta_memory.validation import check_id

T = TypeVar("T")
IdentityResolver = Callable[[], Identity]

INSTRUCTIONS = """\
Layered project memory (tta-memory). Before working on a task call `load_context` with the
session id and the workflow stage (understand, decompose, plan, implement, verify, review) to
get the constraints (PAFs, always apply them), relevant memories and the conversation so far.
`get_constraints` lists the permanent architectural facts. `search_memories` finds long-term
memories; `save_memory` stores a decision, pattern or bug resolution worth keeping;
`append_to_session` records a turn of the conversation."""


class ContextResult(BaseModel):
    """What ``load_context`` returns."""

    text: str = Field(description="The prompt-ready context (constraints first, never dropped)")
    stage: str
    mode: str
    query: str | None = Field(None, description="The deep-memory query that was run")
    counts: dict[str, int] = Field(description="Items loaded per layer")
    over_budget: bool = Field(
        False, description="The PAFs alone exceed the budget (they are kept whole anyway)"
    )


class Engines:
    """One engine per identity, sharing the server's Redis connections.

    Args:
        redis_url: Redis URL, or ``None`` for the configured or embedded server.
        settings: Engine settings.
    """

    def __init__(self, redis_url: str | None = None, settings: Settings | None = None) -> None:
        self.redis_url = redis_url
        self.settings = settings
        self._engines: dict[Identity, MemoryWorkflowPrimitive] = {}
        self._lock = threading.Lock()

    def get(self, identity: Identity) -> MemoryWorkflowPrimitive:
        """The engine acting as ``identity``."""
        with self._lock:
            engine = self._engines.get(identity)
            if engine is None:
                engine = self._engines[identity] = MemoryWorkflowPrimitive(
                    self.redis_url,
                    identity.user_id,
                    workspace=identity.workspace,
                    settings=self.settings,
                )
            return engine


def fixed_identity(workspace: str, user_id: str) -> IdentityResolver:
    """A resolver for a single-user server (stdio): always ``workspace`` and ``user_id``."""
    identity = Identity(
        workspace=check_id("workspace", workspace), user_id=check_id("user_id", user_id)
    )
    return lambda: identity


def token_identity() -> Identity:
    """The identity of the current HTTP request's bearer token (never a default one)."""
    identity = identity_of(get_access_token())
    if identity is None:  # the bearer middleware refuses such requests before any tool runs
        raise ToolError("this request carries no valid bearer token")
    return identity


async def _tool_call(aw: Awaitable[T]) -> T:
    """Await an engine call; its typed errors become clean tool errors (no traceback)."""
    try:
        return await aw
    except (TTAMemoryError, ValidationError) as exc:
        raise ToolError(f"{type(exc).__name__}: {exc}") from exc


def _paf_markdown(pafs: list[PAF]) -> str:
    return pafs_prompt(pafs) + "\n" if pafs else "No active constraints.\n"


def _render(
    context: WorkflowContext, max_chars: int | None, max_tokens: int | None
) -> RenderedContext:
    # The one place the server renders a context (the engine's budgets: PAFs never dropped).
    return fit_context(context, max_chars, max_tokens=max_tokens)


def build_server(
    engines: Engines,
    identity: IdentityResolver,
    *,
    tokens: StaticTokenVerifier | None = None,
    public_url: str = "http://127.0.0.1:8765",
) -> MCPServer:
    """Build the MCP server.

    Args:
        engines: Where the engines of each identity come from.
        identity: Returns the identity of the current call (:func:`fixed_identity` for stdio,
            :func:`token_identity` for HTTP).
        tokens: The bearer-token verifier; required by the HTTP transport.
        public_url: The server's own URL (the issuer named in the OAuth metadata).

    Returns:
        The server; run it with ``run_stdio_async()`` or serve ``streamable_http_app()``.
    """
    auth = None
    if tokens is not None:
        # Static tokens need no authorization server: the SDK's bearer middleware only
        # checks each request's token with the verifier (401 when missing or unknown).
        auth = AuthSettings(issuer_url=public_url, resource_server_url=None)  # type: ignore[arg-type]
    server: MCPServer = MCPServer(
        "tta-memory", instructions=INSTRUCTIONS, token_verifier=tokens, auth=auth
    )

    def engine() -> MemoryWorkflowPrimitive:
        return engines.get(identity())

    @server.tool()
    async def save_memory(
        text: Annotated[str, Field(description="The memory: one self-contained statement")],
        tags: Annotated[list[str] | None, Field(description="Tags for filtering")] = None,
        memory_type: Annotated[
            str | None, Field(description="observation, pattern, decision, bug-resolution, …")
        ] = None,
        session_id: Annotated[str | None, Field(description="The session it came from")] = None,
    ) -> DeepMemory:
        """Store a long-term memory (the same text again returns the existing memory)."""
        return await _tool_call(
            engine().create_deep_memory(text, tags, memory_type=memory_type, session_id=session_id)
        )

    @server.tool()
    async def search_memories(
        query: Annotated[str, Field(description="What to look for, in natural language")],
        limit: Annotated[int, Field(ge=1, le=100, description="At most this many")] = 5,
        tags: Annotated[list[str] | None, Field(description="Keep memories with any")] = None,
        memory_type: Annotated[str | None, Field(description="Only this type")] = None,
    ) -> list[DeepMemory]:
        """Search long-term memories (hybrid: keywords and meaning), best first."""
        return await _tool_call(
            engine().search_deep_memory(query, limit, tags, memory_type=memory_type)
        )

    @server.tool()
    async def get_constraints(
        category: Annotated[
            str | None, Field(description="Only this category, e.g. AUTH (upper case)")
        ] = None,
    ) -> list[PAF]:
        """The active permanent architectural facts (PAFs): constraints that always apply."""
        return await _tool_call(engine().get_active_pafs(category))

    @server.tool()
    async def load_context(
        session_id: Annotated[str, Field(description="The session (conversation) id")],
        stage: Annotated[
            str, Field(description="understand, decompose, plan, implement, verify, review")
        ] = "understand",
        mode: Annotated[str, Field(description="rapid, standard or augster_rigorous")] = (
            "standard"
        ),
        query: Annotated[
            str | None, Field(description="Deep-memory query; default: the latest user turns")
        ] = None,
        max_chars: Annotated[
            int | None, Field(ge=1, description="Character budget; PAFs are never dropped")
        ] = None,
        max_tokens: Annotated[
            int | None, Field(ge=1, description="Token budget; PAFs are never dropped")
        ] = None,
    ) -> ContextResult:
        """Load what a workflow stage needs from every memory layer, rendered for the prompt."""
        memory = engine()

        async def load() -> ContextResult:
            context = WorkflowContext(workflow_id=session_id, session_id=session_id)
            loaded = await memory.load_workflow_context(context, stage, mode, query=query)
            report = loaded.metadata["memory_report"]
            rendered = _render(loaded, max_chars, max_tokens)
            return ContextResult(
                text=rendered.text,
                over_budget=rendered.over_budget,
                stage=report.stage,
                mode=report.mode.value,
                query=report.query,
                counts={name: layer.count for name, layer in report.layers.items()},
            )

        return await _tool_call(load())

    @server.tool()
    async def append_to_session(
        session_id: Annotated[str, Field(description="The session (conversation) id")],
        content: Annotated[str, Field(description="The message text")],
        role: Annotated[str, Field(description="user, assistant, system or tool")] = "user",
    ) -> SessionMessage:
        """Append one message to a session's conversation (kept in strict order)."""
        return await _tool_call(engine().add_session_message(session_id, role, content))

    @server.resource(
        "tta://pafs",
        name="constraints",
        description="The workspace's active PAFs as a markdown list",
        mime_type="text/markdown",
    )
    async def all_pafs() -> str:
        try:
            return _paf_markdown(await engine().get_active_pafs())
        except TTAMemoryError as exc:
            raise ResourceError(str(exc)) from exc

    @server.resource(
        "tta://pafs/{paf_id}",
        name="constraint",
        description="One PAF (any status) with its rationale and history, as JSON",
        mime_type="application/json",
    )
    async def one_paf(paf_id: str) -> str:
        try:
            paf = await engine().paf_primitive.get_paf(paf_id)
        except NotFoundError as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        except TTAMemoryError as exc:
            raise ResourceError(str(exc)) from exc
        return paf.model_dump_json(indent=2)

    return server
