"""Stage-aware memory middleware for LangChain chains."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig, RunnableSerializable
from langchain_core.runnables.base import coerce_to_runnable
from pydantic import Field
from tta_memory import WorkflowContext, render_context
from tta_memory.errors import InvalidInputError
from tta_memory.loading.query import conversation_query
from tta_memory.names import check_name
from tta_memory.tokens import check_budget, resolve_counter
from tta_memory.validation import check_text
from typing_extensions import override

from tta_memory_langchain._convert import (
    from_session_messages,
    output_to_message,
    text_for,
    to_session_item,
)
from tta_memory_langchain._fields import StageFields

if TYPE_CHECKING:
    from tta_memory_langchain.memory_chain import TTAMemoryChain


class TTAMemoryMiddleware(StageFields, RunnableSerializable[Any, dict[str, Any]]):
    """Injects the stage-aware memory of a session into a chain and records the exchange.

    Placed first in a chain, ``middleware | prompt | model`` builds a
    :class:`~tta_memory_langchain.TTAMemoryChain` that, for every call:

    1. loads the session's stage-aware context (``load_workflow_context`` with the user's
       text as the deep-search query) and renders it with ``render_context``;
    2. passes the input on with the rendered block under ``context_key`` (and, with
       ``history_key``, the session's messages as LangChain messages);
    3. after the last step's output (for streams: after the stream ends, chunks
       aggregated) writes the user message and the answer to the session layer in one
       call. A call that fails writes nothing.

    The session comes from ``config["configurable"]["session_id"]``, else the input's
    ``session_id`` key, else the middleware's ``session_id``. ``stage``, ``mode`` and
    ``workflow_id`` can be set the same way per call through ``configurable``.

    Used on its own (``middleware.invoke(...)``) or after another step, the middleware
    only injects; recording needs it at the head of the chain (or ``middleware.wrap(r)``).

    Example:
        ```python
        prompt = ChatPromptTemplate.from_messages(
            [("system", "Project memory:\\n{memory_context}"), ("human", "{input}")]
        )
        chain = TTAMemoryMiddleware(memory=memory, stage="implement") | prompt | model
        chain.invoke({"input": "Add refresh tokens"},
                     config={"configurable": {"session_id": "auth-impl-1"}})
        ```
    """

    _SESSION_HINT: ClassVar[str] = (
        "pass config={'configurable': {'session_id': ...}}, put session_id in the input, "
        "or set session_id on the middleware"
    )

    input_key: str = "input"
    """Input key holding the user's message (a string input is stored under it)."""
    context_key: str = "memory_context"
    """Prompt variable that receives the rendered memory block."""
    history_key: str | None = None
    """If set, prompt variable that receives the session's messages (for a
    ``MessagesPlaceholder``)."""
    output_key: str | None = None
    """If the chain returns a dict, the key holding the answer to record."""
    max_chars: int | None = None
    """Bound on the rendered block; the engine drops the least relevant items, never PAFs."""
    max_tokens: int | None = None
    """Bound on the rendered block in tokens (same rule: least relevant first, never PAFs)."""
    token_counter: Any = Field(default=None, exclude=True)
    """Counter for ``max_tokens``: ``"estimate"`` (default, offline), ``"wordpiece"`` or a
    ``str -> int`` callable (see ``tta_memory.tokens``)."""
    record: bool = True
    """Write each exchange to the session layer (when at the head of a chain)."""
    ttl: int | None = None
    """Session retention in seconds applied on each recorded exchange."""

    def __init__(self, **data: Any) -> None:
        """Create the middleware (see the fields).

        Raises:
            InvalidInputError: A budget that is not a positive integer, or an unknown token
                counter (checked before pydantic, which would wrap the typed error).
        """
        check_budget("max_chars", data.get("max_chars"))
        check_budget("max_tokens", data.get("max_tokens"))
        resolve_counter(data.get("token_counter"))
        super().__init__(**data)

    # --- composition -------------------------------------------------------------------

    @override
    def __or__(self, other: Any) -> TTAMemoryChain:
        """``middleware | steps``: the steps run between injection and recording."""
        return self.wrap(other)

    @override
    def pipe(self, *others: Any, name: str | None = None) -> TTAMemoryChain:
        """``middleware.pipe(prompt, model)``: same as ``middleware | prompt | model``."""
        if not others:
            raise TypeError("pipe() needs at least one runnable to wrap")
        bound: Runnable[Any, Any] = coerce_to_runnable(others[0])
        for other in others[1:]:
            bound = bound | other
        return self.wrap(bound, name=name)

    def wrap(self, runnable: Any, *, name: str | None = None) -> TTAMemoryChain:
        """Put this middleware around a runnable: inject before it, record after it.

        Args:
            runnable: The steps after the middleware (``prompt | model``); anything
                ``coerce_to_runnable`` accepts.
            name: Optional run name of the composed chain.

        Returns:
            The composed chain.
        """
        from tta_memory_langchain.memory_chain import TTAMemoryChain

        return TTAMemoryChain(middleware=self, bound=coerce_to_runnable(runnable), name=name)

    # --- the middleware as a runnable: inject only -------------------------------------

    @override
    def invoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Return the input with the session's rendered memory injected.

        Args:
            input: A dict of prompt variables, or the user's text.
            config: Run config; ``configurable`` may set session_id, stage, mode,
                workflow_id.
            **kwargs: Unused.

        Returns:
            A new dict: the input plus ``context_key`` (and ``history_key``).

        Raises:
            InvalidInputError: No session id, or an unknown stage or mode.
        """
        return self._call_with_config(self._inject, input, config)

    @override
    async def ainvoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Async :meth:`invoke`, reading memory natively async.

        Args:
            input: A dict of prompt variables, or the user's text.
            config: Run config; ``configurable`` may set session_id, stage, mode,
                workflow_id.
            **kwargs: Unused.

        Returns:
            A new dict: the input plus ``context_key`` (and ``history_key``).

        Raises:
            InvalidInputError: No session id, or an unknown stage or mode.
        """
        return await self._acall_with_config(self._ainject, input, config)

    def _inject(
        self, input: Any, run_manager: CallbackManagerForChainRun, config: RunnableConfig
    ) -> dict[str, Any]:
        values = self._normalise(input)
        enriched = self.memory.sync.load_workflow_context(**self._call_args(values, config))
        return self._with_context(values, enriched)

    async def _ainject(
        self, input: Any, run_manager: AsyncCallbackManagerForChainRun, config: RunnableConfig
    ) -> dict[str, Any]:
        values = self._normalise(input)
        enriched = await self.memory.load_workflow_context(**self._call_args(values, config))
        return self._with_context(values, enriched)

    # --- recording (called by TTAMemoryChain) ------------------------------------------

    def record_exchange(
        self, values: Mapping[str, Any], output: Any, config: RunnableConfig
    ) -> None:
        """Write the user message and the chain's answer to the session in one call.

        Args:
            values: The chain input as returned by :meth:`invoke`.
            output: The final output (message, chunk aggregate, string, dict).
            config: The run config (for the session id).

        Raises:
            InvalidInputError: Empty user text or answer; nothing is written.
        """
        if self.record:
            session_id, items = self._exchange(values, output, config)
            self.memory.sync.add_session_messages(session_id, items, ttl_seconds=self.ttl)

    async def arecord_exchange(
        self, values: Mapping[str, Any], output: Any, config: RunnableConfig
    ) -> None:
        """Async :meth:`record_exchange`.

        Args:
            values: The chain input as returned by :meth:`ainvoke`.
            output: The final output (message, chunk aggregate, string, dict).
            config: The run config (for the session id).

        Raises:
            InvalidInputError: Empty user text or answer; nothing is written.
        """
        if self.record:
            session_id, items = self._exchange(values, output, config)
            await self.memory.add_session_messages(session_id, items, ttl_seconds=self.ttl)

    # --- helpers ------------------------------------------------------------------------

    def _normalise(self, input: Any) -> dict[str, Any]:
        if isinstance(input, str | BaseMessage):
            return {self.input_key: input}
        if isinstance(input, Mapping):
            return dict(input)
        raise InvalidInputError(
            f"TTAMemoryMiddleware takes a dict of prompt variables or a string, "
            f"got {type(input).__name__}"
        )

    @staticmethod
    def _sources(
        values: Mapping[str, Any], config: RunnableConfig
    ) -> tuple[Mapping[str, Any], ...]:
        """Per-call settings: ``configurable`` first, then (session id only) the input."""
        return (config.get("configurable") or {}, {"session_id": values.get("session_id")})

    def _session_id(self, values: Mapping[str, Any], config: RunnableConfig) -> str:
        return str(self._session(*self._sources(values, config)))

    def _user_message(self, values: Mapping[str, Any]) -> BaseMessage:
        if self.input_key not in values:
            raise InvalidInputError(
                f"the chain input has no {self.input_key!r} key (the user's message); "
                f"set input_key= to the prompt variable that holds it"
            )
        value = values[self.input_key]
        return value if isinstance(value, BaseMessage) else HumanMessage(content=str(value))

    def _call_args(self, values: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        # Checked with the engine's validators before any model runs, so a call that is
        # bound to fail on recording fails before doing work.
        session_id = check_name("session_id", self._session_id(values, config))
        text = check_text("content", text_for(self._user_message(values)))
        query = conversation_query([("user", text)])
        return self._load_args(session_id, query, *self._sources(values, config))

    def _with_context(self, values: dict[str, Any], enriched: WorkflowContext) -> dict[str, Any]:
        values[self.context_key] = render_context(
            enriched,
            max_chars=self.max_chars,
            max_tokens=self.max_tokens,
            counter=self.token_counter,
        )
        if self.history_key is not None:
            values[self.history_key] = from_session_messages(
                list(enriched.metadata.get("session_context") or [])
            )
        return values

    def _exchange(
        self, values: Mapping[str, Any], output: Any, config: RunnableConfig
    ) -> tuple[str, list[dict[str, Any]]]:
        if self.output_key is not None and isinstance(output, Mapping):
            output = output[self.output_key]
        messages = [self._user_message(values), output_to_message(output)]
        return self._session_id(values, config), [to_session_item(m) for m in messages]
