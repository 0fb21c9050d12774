"""What the tta_memory memory blocks share: their engine client and their recent renderings."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Generic, TypeVar

from llama_index.core.bridge.pydantic import Field
from llama_index.core.memory.memory import BaseMemoryBlock
from tta_memory import MemoryWorkflowPrimitive

T = TypeVar("T")

_SCOPE_KEYS = ("redis_url", "user_id", "workspace")


class Renders(Generic[T]):
    """What a block's last few renderings were made from, by rendered text.

    Lets ``atruncate`` shorten a rendering without loading again; bounded, since several
    ``Memory`` objects may share one block.
    """

    def __init__(self, keep: int = 16) -> None:
        self._keep = keep
        self._items: OrderedDict[str, T] = OrderedDict()

    def add(self, text: str, source: T) -> None:
        """Remember that ``text`` was rendered from ``source`` (nothing for empty text)."""
        if text:
            self._items[text] = source
            while len(self._items) > self._keep:
                self._items.popitem(last=False)

    def get(self, text: str) -> T | None:
        """What ``text`` was rendered from, or ``None`` if this block did not render it."""
        return self._items.get(text)


class EngineMemoryBlock(BaseMemoryBlock[str]):
    """A memory block reading (and writing) through a tta_memory engine client."""

    memory: MemoryWorkflowPrimitive = Field(
        exclude=True, description="The tta_memory engine client (workspace and user)."
    )

    def __init__(self, **data: Any) -> None:
        """Create the block.

        Args:
            **data: ``memory`` (an engine client) or ``redis_url``/``user_id``/``workspace``,
                and the block's fields.

        Raises:
            InvalidInputError: ``memory`` is not an engine client, or is given with a scope.
        """
        scope = {key: data.pop(key, None) for key in _SCOPE_KEYS}
        data["memory"] = MemoryWorkflowPrimitive.resolve(data.get("memory"), **scope)
        super().__init__(**data)
