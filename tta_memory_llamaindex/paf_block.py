"""``PAFMemoryBlock``: the workspace's active architectural constraints, never truncated."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.bridge.pydantic import Field
from tta_memory.errors import InvalidInputError
from tta_memory.loading.render import render

from tta_memory_llamaindex._block import EngineMemoryBlock


class PAFMemoryBlock(EngineMemoryBlock):
    """A memory block holding the active Permanent Architectural Facts (PAFs) of a workspace.

    PAFs are authoritative constraints ("AUTH-001: use PyJWT"), so the block has priority 0:
    ``Memory`` never truncates it. It ignores messages flushed from short-term memory; PAFs
    are written through the engine (``memory.paf_primitive.add_paf``).

    Example:
        >>> block = PAFMemoryBlock(memory=engine, categories=["AUTH"])
        >>> mem = Memory.from_defaults(memory_blocks=[block], chat_store=store)
    """

    name: str = Field(default="ArchitecturalFacts", description="The name of the memory block.")
    description: str | None = Field(
        default="Permanent architectural facts: constraints every answer must respect.",
        description="A description of the memory block.",
    )
    priority: int = Field(default=0, description="0: never truncated.")
    accept_short_term_memory: bool = Field(
        default=False, description="PAFs are not derived from flushed chat messages."
    )
    categories: list[str] | None = Field(
        default=None, description="Only these PAF categories (e.g. ['AUTH']); None: all."
    )

    def __init__(self, **data: Any) -> None:
        """Create the block.

        Args:
            **data: ``memory`` (an engine client) or ``redis_url``/``user_id``/``workspace``;
                ``categories``, ``name``, ``description``.

        Raises:
            InvalidInputError: A priority other than 0 (PAFs are never truncated).
        """
        # Checked before pydantic, which would wrap the typed error in a ValidationError.
        if data.get("priority", 0) != 0:
            raise InvalidInputError("a PAF block is never truncated: its priority must be 0")
        super().__init__(**data)

    async def _aget(self, messages: list[ChatMessage] | None = None, **block_kwargs: Any) -> str:
        """Return the active PAFs rendered as a markdown list ("" when there are none)."""
        if self.categories is None:
            pafs = await self.memory.get_active_pafs()
        else:
            pafs = []
            for category in self.categories:
                pafs.extend(await self.memory.get_active_pafs(category=category))
        return render(pafs=pafs)

    async def _aput(self, messages: list[ChatMessage]) -> None:
        """Ignore pushed messages: PAFs are curated, not extracted from chat."""

    async def atruncate(self, content: str, tokens_to_truncate: int) -> str | None:
        """Keep ``content`` whole: constraints are never dropped.

        Args:
            content: What ``aget`` returned.
            tokens_to_truncate: Ignored.

        Returns:
            ``content``, unchanged.
        """
        return content
