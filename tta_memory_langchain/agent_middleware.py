"""Agent middleware for LangChain 1.x ``create_agent``: stage-aware memory in, exchange out.

``create_agent(model, tools, middleware=[TTAAgentMiddleware(memory=memory)])``:

1. **before the agent** runs a turn, the session's stage-aware context is loaded
   (``load_workflow_context``; the deep-search query is the engine's query of the thread's
   latest user turns) and
   rendered within a token budget (``max_tokens``; PAFs are never dropped). The block is kept
   in the agent state under ``memory_context``, with a ``memory_report`` (counts per layer,
   what the budget dropped, tokens);
2. **before every model call** of that turn the block is appended to the system message of
   the request only: it is never written into the thread's messages, so it is not repeated
   turn after turn or checkpointed as conversation;
3. **after the agent** finishes the turn, the user's message and the final answer are
   recorded in the session (one call; tool calls and results stay in the thread).

The session is the runtime context's ``session_id``, else the thread id (``configurable
.thread_id``), else the middleware's ``session_id``. Stage, mode, ``max_tokens`` and
``workflow_id`` can be set per call in the runtime context (``context_schema=TTAMemoryContext``
or any schema with those fields). The session's own messages are rendered only when the thread
does not already carry earlier turns (a thread without a checkpointer, or its first turn),
unless ``include_conversation`` says otherwise.

Use this middleware with ``create_agent`` / LangGraph; use :class:`TTAMemoryMiddleware` for
LCEL chains (``middleware | prompt | model``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, NotRequired

from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest
from langchain.agents.middleware.types import ModelResponse, OmitFromInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.config import get_config
from langgraph.runtime import Runtime
from tta_memory import MemoryWorkflowPrimitive, WorkflowContext, WorkflowMode
from tta_memory.loading.query import conversation_query
from tta_memory.loading.render import RenderedContext, fit_context
from tta_memory.tokens import TokenCounter, check_budget, resolve_counter

from tta_memory_langchain._convert import role_for, text_for, to_session_item
from tta_memory_langchain._fields import StageFields

logger = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 2000
PREAMBLE = (
    "Project memory (tta-memory). Constraints always apply; the rest is context, most "
    "relevant first."
)


@dataclass
class TTAMemoryContext:
    """Runtime context fields the middleware reads (``create_agent(...,
    context_schema=TTAMemoryContext)``, then ``agent.invoke(..., context=TTAMemoryContext(
    stage="implement"))``). Any context with these attribute or key names works too."""

    session_id: str | None = None
    stage: str | None = None
    mode: str | None = None
    max_tokens: int | None = None
    workflow_id: str | None = None


class TTAMemoryState(AgentState[Any]):
    """Agent state with what the middleware injected this turn."""

    memory_context: NotRequired[Annotated[str, OmitFromInput]]
    memory_report: NotRequired[Annotated[dict[str, Any], OmitFromInput]]


def _from_context(context: Any, name: str) -> Any:
    if context is None:
        return None
    if isinstance(context, Mapping):
        return context.get(name)
    return getattr(context, name, None)


def _last_human(messages: list[BaseMessage]) -> int | None:
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return i
    return None


class TTAAgentMiddleware(AgentMiddleware[TTAMemoryState, Any]):
    """Stage-aware memory for ``create_agent``: inject before the model, record after.

    Args:
        memory: An engine instance, or ``None`` to build one from ``redis_url``, ``user_id``
            and ``workspace``.
        redis_url: Redis URL when no ``memory`` is given.
        user_id: Acting user when no ``memory`` is given.
        workspace: Workspace when no ``memory`` is given.
        session_id: Session used when neither the runtime context nor the thread names one.
        stage: Default workflow stage (understand, decompose, plan, implement, verify, review).
        mode: Default loading mode (rapid, standard, augster_rigorous).
        workflow_metadata: ``WorkflowContext.metadata`` (``feature``, ``group_id`` …).
        policy: ``StagePolicy`` overrides passed to the engine.
        max_tokens: Token budget of the injected block (``None``: no budget).
        counter: Token counter (``"estimate"`` default, ``"wordpiece"``, or a callable).
        include_conversation: Render the session's messages: ``None`` (default) only when
            the thread holds no earlier turn; ``True`` / ``False`` always / never.
        record: Record each exchange in the session.
        ttl: Session retention in seconds applied on each recorded exchange.
        preamble: First line of the injected block.
    """

    state_schema = TTAMemoryState

    def __init__(
        self,
        memory: MemoryWorkflowPrimitive | None = None,
        *,
        redis_url: str | None = None,
        user_id: str | None = None,
        workspace: str | None = None,
        session_id: str | None = None,
        stage: str = "understand",
        mode: WorkflowMode | str = WorkflowMode.STANDARD,
        workflow_metadata: dict[str, Any] | None = None,
        policy: Any = None,
        max_tokens: int | None = DEFAULT_MAX_TOKENS,
        counter: TokenCounter | str | None = None,
        include_conversation: bool | None = None,
        record: bool = True,
        ttl: int | None = None,
        preamble: str = PREAMBLE,
    ) -> None:
        super().__init__()
        scope = {"redis_url": redis_url, "user_id": user_id, "workspace": workspace}
        given: dict[str, Any] = {
            k: v for k, v in {"memory": memory, **scope}.items() if v is not None
        }
        self.fields = StageFields(
            **given,
            session_id=session_id,
            stage=stage,
            mode=mode,
            workflow_metadata=dict(workflow_metadata or {}),
            policy=policy,
        )
        self.max_tokens = check_budget("max_tokens", max_tokens)
        self.counter = resolve_counter(counter)
        self.include_conversation = include_conversation
        self.record = record
        self.ttl = ttl
        self.preamble = preamble
        self.tools = []

    @property
    def memory(self) -> MemoryWorkflowPrimitive:
        """The engine this middleware reads and writes."""
        return self.fields.memory

    # --- per-call settings ----------------------------------------------------------------

    def _sources(self, runtime: Runtime[Any]) -> tuple[Mapping[str, Any], ...]:
        context = runtime.context
        per_call = {
            name: _from_context(context, name)
            for name in ("session_id", "stage", "mode", "workflow_id")
        }
        try:
            thread = (get_config().get("configurable") or {}).get("thread_id")
        except RuntimeError:  # called outside a graph run
            thread = None
        return per_call, {"session_id": thread}

    def _budget(self, runtime: Runtime[Any]) -> int | None:
        per_call = _from_context(runtime.context, "max_tokens")
        return check_budget("max_tokens", per_call) if per_call is not None else self.max_tokens

    def _load_args(self, state: Mapping[str, Any], runtime: Runtime[Any]) -> dict[str, Any]:
        sources = self._sources(runtime)
        session_id = str(self.fields._session(*sources))
        # The engine's query of a conversation: the thread's latest user turns.
        turns = [(role_for(m), text_for(m)) for m in state.get("messages") or []]
        return self.fields._load_args(session_id, conversation_query(turns) or None, *sources)

    def _rendered(
        self, state: Mapping[str, Any], runtime: Runtime[Any], enriched: WorkflowContext
    ) -> dict[str, Any]:
        messages = list(state.get("messages") or [])
        last = _last_human(messages)
        earlier = [m for m in messages[: last or 0] if not isinstance(m, SystemMessage)]
        include = self.include_conversation
        if include is None:
            include = not earlier
        shown = enriched
        if not include:
            shown = enriched.model_copy(
                update={"metadata": {**enriched.metadata, "session_context": []}}
            )
        budget = self._budget(runtime)
        fitted: RenderedContext = fit_context(shown, max_tokens=budget, counter=self.counter)
        if fitted.over_budget:
            logger.warning(
                "the project's constraints (PAFs) alone exceed max_tokens=%s; they are "
                "injected in full and nothing else is",
                budget,
            )
        report = enriched.metadata["memory_report"]
        return {
            "memory_context": fitted.text,
            "memory_report": {
                "session_id": enriched.session_id,
                "stage": report.stage,
                "mode": report.mode.value,
                "query": report.query,
                "layers": {name: layer.count for name, layer in report.layers.items()},
                "conversation_included": include,
                "max_tokens": budget,
                "tokens": fitted.tokens,
                "dropped": fitted.dropped,
                "over_budget": fitted.over_budget,
            },
        }

    # --- hooks: load before the turn ------------------------------------------------------

    def before_agent(self, state: TTAMemoryState, runtime: Runtime[Any]) -> dict[str, Any]:
        """Load and render the session's stage-aware context for this turn."""
        enriched = self.memory.sync.load_workflow_context(**self._load_args(state, runtime))
        return self._rendered(state, runtime, enriched)

    async def abefore_agent(self, state: TTAMemoryState, runtime: Runtime[Any]) -> dict[str, Any]:
        """Async :meth:`before_agent`."""
        enriched = await self.memory.load_workflow_context(**self._load_args(state, runtime))
        return self._rendered(state, runtime, enriched)

    # --- hooks: inject into every model call ----------------------------------------------

    def _with_memory(self, request: ModelRequest) -> ModelRequest:
        block = request.state.get("memory_context") if request.state else None
        if not block:
            return request
        text = f"{self.preamble}\n\n{block}"
        current = request.system_message
        if current is None:
            return request.override(system_message=SystemMessage(content=text))
        if isinstance(current.content, str):
            content: Any = f"{current.content}\n\n{text}" if current.content else text
        else:
            content = [*current.content, {"type": "text", "text": text}]
        return request.override(system_message=SystemMessage(content=content))

    def wrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
    ) -> ModelResponse:
        """Append the turn's memory block to the system message of the model request."""
        return handler(self._with_memory(request))

    async def awrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], Awaitable[ModelResponse]],
    ) -> ModelResponse:
        """Async :meth:`wrap_model_call`."""
        return await handler(self._with_memory(request))

    # --- hooks: record after the turn -----------------------------------------------------

    def _exchange(
        self, state: Mapping[str, Any], runtime: Runtime[Any]
    ) -> tuple[str, list[dict[str, Any]]] | None:
        if not self.record:
            return None
        messages = list(state.get("messages") or [])
        last = _last_human(messages)
        if last is None:
            return None
        items = [to_session_item(messages[last])]
        final = messages[-1] if len(messages) > last + 1 else None
        # An empty final answer (a model sometimes returns one) is not a turn to remember.
        if isinstance(final, AIMessage) and str(final.text).strip():
            items.append(to_session_item(final))
        session_id = str(self.fields._session(*self._sources(runtime)))
        return session_id, items

    def after_agent(self, state: TTAMemoryState, runtime: Runtime[Any]) -> None:
        """Record the user's message and the final answer in the session."""
        exchange = self._exchange(state, runtime)
        if exchange is not None:
            self.memory.sync.add_session_messages(*exchange, ttl_seconds=self.ttl)

    async def aafter_agent(self, state: TTAMemoryState, runtime: Runtime[Any]) -> None:
        """Async :meth:`after_agent`."""
        exchange = self._exchange(state, runtime)
        if exchange is not None:
            await self.memory.add_session_messages(*exchange, ttl_seconds=self.ttl)


__all__ = ["TTAAgentMiddleware", "TTAMemoryContext", "TTAMemoryState"]
