"""The chain a ``TTAMemoryMiddleware`` builds around the steps after it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun
from langchain_core.runnables import Runnable, RunnableConfig, RunnableSerializable
from langchain_core.runnables.base import coerce_to_runnable
from langchain_core.runnables.config import patch_config
from pydantic import ConfigDict
from typing_extensions import override

from tta_memory_langchain.middleware import TTAMemoryMiddleware


def _add(total: Any, chunk: Any) -> Any:
    """Aggregate stream chunks the way LangChain does: ``+`` when they support it."""
    if total is None:
        return chunk
    try:
        return total + chunk
    except TypeError:
        return chunk


class TTAMemoryChain(RunnableSerializable[Any, Any]):
    """``middleware | steps``: memory injected before ``bound``, the exchange recorded after.

    Built by ``TTAMemoryMiddleware.__or__`` / ``.pipe`` / ``.wrap``; piping more steps onto
    it (``chain | parser``) extends ``bound`` so the exchange is always recorded after the
    last step. Supports ``invoke``, ``ainvoke``, ``batch``, ``abatch``, ``stream`` and
    ``astream``; streamed chunks are passed through as they arrive and recorded once the
    stream ends.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    middleware: TTAMemoryMiddleware
    """Loads and injects the context, records the exchange."""
    bound: Runnable[Any, Any]
    """The steps after the middleware (e.g. ``prompt | model``)."""

    @override
    def __or__(self, other: Any) -> TTAMemoryChain:
        """Append a step; the exchange is still recorded after the new last step."""
        return TTAMemoryChain(middleware=self.middleware, bound=self.bound | other, name=self.name)

    @override
    def pipe(self, *others: Any, name: str | None = None) -> TTAMemoryChain:
        """Append steps, like ``chain | a | b``."""
        bound = self.bound
        for other in others:
            bound = bound | coerce_to_runnable(other)
        return TTAMemoryChain(middleware=self.middleware, bound=bound, name=name or self.name)

    @property
    @override
    def InputType(self) -> type[Any]:
        return dict

    @property
    @override
    def OutputType(self) -> Any:
        return self.bound.OutputType

    # --- invoke ---------------------------------------------------------------------------

    @override
    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Inject memory, run the steps, record the exchange.

        Args:
            input: Prompt variables (dict) or the user's text.
            config: Run config; ``configurable`` carries session_id, stage, mode.
            **kwargs: Unused.

        Returns:
            The output of the last step.
        """
        return self._call_with_config(self._invoke, input, config)

    @override
    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Async :meth:`invoke`.

        Args:
            input: Prompt variables (dict) or the user's text.
            config: Run config; ``configurable`` carries session_id, stage, mode.
            **kwargs: Unused.

        Returns:
            The output of the last step.
        """
        return await self._acall_with_config(self._ainvoke, input, config)

    def _invoke(
        self, input: Any, run_manager: CallbackManagerForChainRun, config: RunnableConfig
    ) -> Any:
        child = patch_config(config, callbacks=run_manager.get_child())
        values = self.middleware.invoke(input, child)
        output = self.bound.invoke(values, child)
        self.middleware.record_exchange(values, output, config)
        return output

    async def _ainvoke(
        self, input: Any, run_manager: AsyncCallbackManagerForChainRun, config: RunnableConfig
    ) -> Any:
        child = patch_config(config, callbacks=run_manager.get_child())
        values = await self.middleware.ainvoke(input, child)
        output = await self.bound.ainvoke(values, child)
        await self.middleware.arecord_exchange(values, output, config)
        return output

    # --- streaming ------------------------------------------------------------------------

    @override
    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        """Stream the last step's chunks; record the aggregated answer when it ends.

        Args:
            input: Prompt variables (dict) or the user's text.
            config: Run config; ``configurable`` carries session_id, stage, mode.
            **kwargs: Unused.

        Yields:
            The last step's chunks, as they arrive.
        """
        yield from self.transform(iter([input]), config, **kwargs)

    @override
    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """Async :meth:`stream`.

        Args:
            input: Prompt variables (dict) or the user's text.
            config: Run config; ``configurable`` carries session_id, stage, mode.
            **kwargs: Unused.

        Yields:
            The last step's chunks, as they arrive.
        """

        async def single() -> AsyncIterator[Any]:
            yield input

        async for chunk in self.atransform(single(), config, **kwargs):
            yield chunk

    @override
    def transform(
        self, input: Iterator[Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        yield from self._transform_stream_with_config(input, self._transform, config)

    @override
    async def atransform(
        self, input: AsyncIterator[Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        async for chunk in self._atransform_stream_with_config(input, self._atransform, config):
            yield chunk

    def _transform(
        self,
        inputs: Iterator[Any],
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> Iterator[Any]:
        final_input = None
        for item in inputs:
            final_input = _add(final_input, item)
        values = self.middleware.invoke(final_input, config)
        answer = None
        for chunk in self.bound.stream(values, config):
            yield chunk
            answer = _add(answer, chunk)
        self.middleware.record_exchange(values, answer, config)

    async def _atransform(
        self,
        inputs: AsyncIterator[Any],
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> AsyncIterator[Any]:
        final_input = None
        async for item in inputs:
            final_input = _add(final_input, item)
        values = await self.middleware.ainvoke(final_input, config)
        answer = None
        async for chunk in self.bound.astream(values, config):
            yield chunk
            answer = _add(answer, chunk)
        await self.middleware.arecord_exchange(values, answer, config)
