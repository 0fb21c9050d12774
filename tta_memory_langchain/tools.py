"""Agent tools over tta-memory: save and search memories, read the project's constraints."""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, BaseToolkit, InjectedToolArg, StructuredTool
from pydantic import BaseModel, Field
from tta_memory import PAF, MemoryWorkflowPrimitive
from tta_memory.paf_text import pafs_prompt

from tta_memory_langchain._fields import EngineFields


class SaveMemoryInput(BaseModel):
    """Arguments of ``save_memory``."""

    text: str = Field(description="The fact, decision or lesson to remember, self-contained.")
    tags: list[str] = Field(
        default_factory=list, description="Short topic tags, e.g. ['auth', 'jwt']."
    )
    memory_type: str = Field(
        default="observation",
        description="Kind of memory: observation, pattern, decision or bug-resolution.",
    )
    session_id: Annotated[str | None, InjectedToolArg] = Field(
        default=None, description="Session the memory comes from (set by the application)."
    )


class SearchMemoryInput(BaseModel):
    """Arguments of ``search_memory``."""

    query: str = Field(description="What to look for, in natural language or keywords.")
    k: int = Field(default=5, description="Maximum number of memories to return.")
    tags: list[str] | None = Field(
        default=None, description="Only memories with any of these tags."
    )
    memory_type: str | None = Field(default=None, description="Only memories of this kind.")


class GetConstraintsInput(BaseModel):
    """Arguments of ``get_constraints``."""

    category: str | None = Field(
        default=None, description="Only this category (upper-case, e.g. 'AUTH'); all if empty."
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class TTAMemoryToolkit(EngineFields, BaseToolkit):
    """The tools an agent needs to use tta-memory.

    - ``save_memory(text, tags, memory_type)``: store a deep memory.
    - ``search_memory(query, k, tags, memory_type)``: hybrid search of deep memory.
    - ``get_constraints(category)``: the active permanent architectural facts (PAFs).

    The workspace and user are those of ``memory``; the session a saved memory comes from
    is an injected argument (``InjectedToolArg``, absent from the schema the model sees)
    supplied by the application in the tool call, else taken from
    ``config["configurable"]["session_id"]``, else the toolkit's ``session_id``. The model
    never chooses whose memory it reads or writes. Tools return short text.

    Example:
        ```python
        tools = TTAMemoryToolkit(memory=memory, session_id="auth-impl-1").get_tools()
        model_with_tools = model.bind_tools(tools)
        ```
    """

    session_id: str | None = None
    """Default session recorded on saved memories."""
    max_chars_per_memory: int = 400
    """Search results longer than this are clipped in the tool's text."""

    def get_tools(self) -> list[BaseTool]:
        """Build the three tools.

        Returns:
            ``save_memory``, ``search_memory`` and ``get_constraints``.
        """
        return [self._save_tool(), self._search_tool(), self._constraints_tool()]

    # --- save_memory ------------------------------------------------------------------------

    def _session(self, session_id: str | None, config: RunnableConfig) -> str | None:
        configurable = config.get("configurable") or {}
        return session_id or configurable.get("session_id") or self.session_id

    @staticmethod
    def _saved(memory: Any) -> str:
        tags = f" (tags: {', '.join(memory.tags)})" if memory.tags else ""
        return f"Saved memory {memory.id}{tags}."

    def _save_tool(self) -> BaseTool:
        def save_memory(
            text: str,
            tags: list[str] | None = None,
            memory_type: str = "observation",
            session_id: str | None = None,
            *,
            config: RunnableConfig,  # injected by LangChain (exact annotation required)
        ) -> str:
            saved = self.memory.sync.create_deep_memory(
                text,
                tags=tags or None,
                memory_type=memory_type,
                session_id=self._session(session_id, config),
            )
            return self._saved(saved)

        async def asave_memory(
            text: str,
            tags: list[str] | None = None,
            memory_type: str = "observation",
            session_id: str | None = None,
            *,
            config: RunnableConfig,  # injected by LangChain (exact annotation required)
        ) -> str:
            saved = await self.memory.create_deep_memory(
                text,
                tags=tags or None,
                memory_type=memory_type,
                session_id=self._session(session_id, config),
            )
            return self._saved(saved)

        return StructuredTool.from_function(
            func=save_memory,
            coroutine=asave_memory,
            name="save_memory",
            description=(
                "Save a fact, decision or lesson to long-term team memory so it can be "
                "found in later sessions. Returns the memory id."
            ),
            args_schema=SaveMemoryInput,
        )

    # --- search_memory ----------------------------------------------------------------------

    def _found(self, memories: list[Any]) -> str:
        if not memories:
            return "No matching memories."
        lines = [f"Found {len(memories)} memories:"]
        for rank, memory in enumerate(memories, 1):
            tags = f" (tags: {', '.join(memory.tags)})" if memory.tags else ""
            text = _clip(" ".join(memory.text.split()), self.max_chars_per_memory)
            lines.append(f"{rank}. [{memory.id}] {text}{tags}")
        return "\n".join(lines)

    def _search_tool(self) -> BaseTool:
        def search_memory(
            query: str, k: int = 5, tags: list[str] | None = None, memory_type: str | None = None
        ) -> str:
            found = self.memory.sync.search_deep_memory(
                query, limit=k, tags=tags or None, memory_type=memory_type
            )
            return self._found(found)

        async def asearch_memory(
            query: str, k: int = 5, tags: list[str] | None = None, memory_type: str | None = None
        ) -> str:
            found = await self.memory.search_deep_memory(
                query, limit=k, tags=tags or None, memory_type=memory_type
            )
            return self._found(found)

        return StructuredTool.from_function(
            func=search_memory,
            coroutine=asearch_memory,
            name="search_memory",
            description=(
                "Search long-term team memory (decisions, patterns, past fixes) by meaning "
                "and keywords. Returns the best matches with their ids."
            ),
            args_schema=SearchMemoryInput,
        )

    # --- get_constraints --------------------------------------------------------------------

    @staticmethod
    def _constraints(pafs: list[PAF]) -> str:
        if not pafs:
            return "No active constraints."
        return "Active constraints (must be followed):\n" + pafs_prompt(pafs)

    def _constraints_tool(self) -> BaseTool:
        def get_constraints(category: str | None = None) -> str:
            return self._constraints(self.memory.sync.get_active_pafs(category=category or None))

        async def aget_constraints(category: str | None = None) -> str:
            return self._constraints(await self.memory.get_active_pafs(category=category or None))

        return StructuredTool.from_function(
            func=get_constraints,
            coroutine=aget_constraints,
            name="get_constraints",
            description=(
                "List the project's active permanent architectural facts (PAFs): the "
                "constraints every change must respect."
            ),
            args_schema=GetConstraintsInput,
        )


def create_memory_tools(
    memory: MemoryWorkflowPrimitive, *, session_id: str | None = None
) -> list[BaseTool]:
    """Build ``save_memory``, ``search_memory`` and ``get_constraints`` for an engine.

    Args:
        memory: The engine (its workspace and user scope the tools).
        session_id: Default session recorded on saved memories.

    Returns:
        The three tools.
    """
    return TTAMemoryToolkit(memory=memory, session_id=session_id).get_tools()
