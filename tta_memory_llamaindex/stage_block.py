"""``StageMemoryBlock``: the engine's stage-aware context, rendered for a prompt."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.utils import get_tokenizer
from tta_memory import (
    StagePolicy,
    WorkflowContext,
    WorkflowMode,
    render_context,
)
from tta_memory.loading.policy import normalize_mode, normalize_stage
from tta_memory.loading.query import conversation_query
from tta_memory.tokens import TokenCounter, check_budget, resolve_counter

from tta_memory_llamaindex._block import EngineMemoryBlock, Renders
from tta_memory_llamaindex._messages import message_text


class StageMemoryBlock(EngineMemoryBlock):
    """A memory block that loads ``load_workflow_context`` for a workflow stage and mode.

    On each ``Memory.aget`` it loads the layered context of the Memory's session for
    ``stage``/``mode`` (session, cache, deep memories, PAFs, groups, per the engine's stage
    policy) and renders it with the engine's ``render_context``. When ``Memory`` needs room,
    ``atruncate`` re-renders the same loaded context with a smaller token budget, so the
    least relevant items go first instead of the whole block.

    ``Memory.aget(stage=..., mode=..., query=...)`` overrides the block's stage, mode and
    deep-search query for one call.

    Example:
        >>> block = StageMemoryBlock(memory=engine, stage="implement", mode="standard")
    """

    name: str = Field(default="StageContext", description="The name of the memory block.")
    description: str | None = Field(
        default="Stage-aware layered context: relevant memories and recent activity.",
        description="A description of the memory block.",
    )
    priority: int = Field(
        default=1,
        description="Memory truncates blocks in ascending priority (0: never): the broad "
        "stage context gives way first.",
    )
    accept_short_term_memory: bool = Field(
        default=False, description="Loading only; flushed messages are stored elsewhere."
    )
    stage: str = Field(default="implement", description="Workflow stage to load for.")
    mode: WorkflowMode = Field(default=WorkflowMode.STANDARD, description="Workflow mode.")
    workflow_id: str = Field(default="llamaindex", description="The WorkflowContext id.")
    workflow_metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="WorkflowContext metadata (e.g. feature, description, group_id).",
    )
    policy: StagePolicy | dict[str, Any] | None = Field(
        default=None, description="StagePolicy overrides passed to load_workflow_context."
    )
    include_pafs: bool = Field(
        default=True,
        description="Render PAFs here; set False when a PAFMemoryBlock already holds them.",
    )
    include_conversation: bool = Field(
        default=False,
        description="Render the session's messages too (Memory already sends its short-term "
        "messages, so this is off by default).",
    )
    max_chars: int | None = Field(
        default=None, description="Character budget for the rendered block; None: no limit."
    )
    max_tokens: int | None = Field(
        default=None,
        description="Token budget for the rendered block (PAFs never dropped); None: no limit.",
    )
    token_counter: Any = Field(
        default=None,
        exclude=True,
        description="Counter for max_tokens and truncation: None for LlamaIndex's global "
        "tokenizer (the one Memory counts with), 'estimate', 'wordpiece' or a str -> int callable.",
    )
    query_window: int = Field(
        default=1, ge=1, description="Latest user messages used as the deep-search query."
    )

    _renders: Renders[WorkflowContext] = PrivateAttr(default_factory=Renders)

    def __init__(self, **data: Any) -> None:
        """Create the block.

        Args:
            **data: ``memory`` (an engine client) or ``redis_url``/``user_id``/``workspace``;
                ``stage``, ``mode``, ``workflow_id``,
                ``workflow_metadata``, ``policy``, ``include_pafs``, ``include_conversation``,
                ``max_chars``, ``max_tokens``, ``token_counter``, ``query_window``, ``name``,
                ``priority``.

        Raises:
            InvalidInputError: An unknown stage or mode, a budget that is not a positive
                integer or an unknown token counter (checked before pydantic would wrap the
                typed error).
        """
        check_budget("max_chars", data.get("max_chars"))
        check_budget("max_tokens", data.get("max_tokens"))
        if data.get("token_counter") is not None:
            resolve_counter(data["token_counter"])
        if "stage" in data:
            data["stage"] = normalize_stage(data["stage"])
        if "mode" in data:
            data["mode"] = normalize_mode(data["mode"])
        super().__init__(**data)

    def _query(self, messages: list[ChatMessage] | None) -> str | None:
        """The engine's query of the latest user turns (``None``: let the engine derive one)."""
        turns = [(m.role.value, message_text(m)) for m in messages or []]
        return conversation_query(turns, window=self.query_window) or None

    async def _aget(
        self,
        messages: list[ChatMessage] | None = None,
        session_id: str | None = None,
        **block_kwargs: Any,
    ) -> str:
        """Load and render the stage-aware context of the Memory's session.

        Args:
            messages: The Memory's short-term messages (and the new input, if any).
            session_id: The Memory's session id (passed by ``Memory``).
            **block_kwargs: ``stage``, ``mode`` and ``query`` override the block's settings.

        Returns:
            The rendered context ("" when nothing was loaded).
        """
        ctx = WorkflowContext(
            workflow_id=self.workflow_id,
            session_id=session_id or self.workflow_id,
            metadata=dict(self.workflow_metadata),
            state={},
        )
        enriched = await self.memory.load_workflow_context(
            ctx,
            stage=block_kwargs.get("stage", self.stage),
            mode=block_kwargs.get("mode", self.mode),
            query=block_kwargs.get("query") or self._query(messages),
            policy=self._policy(),
        )
        text = self._render(enriched, self.max_tokens)
        self._renders.add(text, enriched)
        return text

    def _policy(self) -> StagePolicy | dict[str, Any] | None:
        """The caller's policy overrides, plus what this block leaves to other parts of Memory.

        Skipping is done through the engine's policy, so skipped layers are not even read.
        """
        skip: dict[str, Any] = {}
        if not self.include_pafs:
            skip["pafs"] = False
        if not self.include_conversation:
            skip["messages"] = 0
        if not skip:
            return self.policy
        if isinstance(self.policy, StagePolicy):
            return self.policy.model_copy(update=skip)
        return {**(self.policy or {}), **skip}

    def _count(self) -> TokenCounter:
        if self.token_counter is None:
            tokenize = get_tokenizer()
            return lambda text: len(tokenize(text))
        return resolve_counter(self.token_counter)

    def _render(self, enriched: WorkflowContext, max_tokens: int | None) -> str:
        return render_context(
            enriched, max_chars=self.max_chars, max_tokens=max_tokens, counter=self._count()
        )

    async def _aput(self, messages: list[ChatMessage]) -> None:
        """Ignore pushed messages: the session layer already holds the conversation."""

    async def atruncate(self, content: str, tokens_to_truncate: int) -> str | None:
        """Re-render the loaded context about ``tokens_to_truncate`` tokens shorter.

        The engine's renderer drops the least relevant items first (never PAFs), so the
        block keeps its most useful part instead of vanishing.

        Args:
            content: What ``aget`` returned.
            tokens_to_truncate: How many tokens ``Memory`` wants back.

        Returns:
            The shorter rendering, or ``None`` when nothing useful fits.
        """
        if tokens_to_truncate <= 0:
            return content
        enriched = self._renders.get(content)
        if enriched is None:  # not rendered by this block: it can only be dropped whole
            return None
        # Counted with the block's counter (by default the tokenizer Memory counts with).
        budget = self._count()(content) - tokens_to_truncate
        if budget <= 0:
            return None
        if self.max_tokens is not None:
            budget = min(budget, self.max_tokens)
        text = self._render(enriched, budget)
        return text or None
