"""What the tta_memory memory blocks share: their engine client and their recent renderings."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Generic, TypeVar

from llama_index.core.bridge.pydantic import Field, model_validator
from llama_index.core.memory.memory import BaseMemoryBlock
from tta_memory import MemoryWorkflowPrimitive

from tta_memory_llamaindex._scope import SCOPE_KEYS, Scope, resolve_scope

T = TypeVar("T")


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


class EngineMemoryBlock(BaseMemoryBlock[str], Scope):
    """A memory block reading (and writing) through a tta_memory engine client.

    Serialisable: ``model_dump()`` holds the block's fields and its scope (server URL without
    its password, workspace, user, key prefix), and ``model_validate(dump)`` builds a block on
    the same memory (see :mod:`tta_memory_llamaindex._scope` for where a password comes from).
    """

    memory: MemoryWorkflowPrimitive = Field(
        exclude=True, description="The tta_memory engine client (workspace and user)."
    )

    def __init__(self, **data: Any) -> None:
        """Create the block.

        Args:
            **data: ``memory`` (an engine client) or ``redis_url``/``user_id``/``workspace``/
                ``prefix``, and the block's fields.

        Raises:
            InvalidInputError: ``memory`` is not an engine client, or is given with a scope.
        """
        scope = {key: data.pop(key, None) for key in SCOPE_KEYS}
        engine, fields = resolve_scope(data.pop("memory", None), scope)
        super().__init__(**{**data, **fields, "memory": engine})

    @model_validator(mode="before")
    @classmethod
    def _engine_of_a_loaded_block(cls, data: Any) -> Any:
        # model_validate(dump) does not run __init__: the engine comes from the dumped scope.
        if isinstance(data, dict) and data.get("memory") is None:
            scope = Scope.model_validate({key: data.get(key) for key in SCOPE_KEYS})
            data = {**data, "memory": scope.build_engine()}
        return data
