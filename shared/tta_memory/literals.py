"""The literal types of the engine, defined once (adapters import them from here)."""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["user", "assistant", "system", "tool"]
ROLES: tuple[str, ...] = get_args(Role)

Layer = Literal["paf", "deep", "cache", "session"]
# The order a loaded context presents its layers in: constraints first, the conversation last.
LAYERS: tuple[Layer, ...] = get_args(Layer)

SearchMode = Literal["hybrid", "vector", "text"]
SEARCH_MODES: tuple[str, ...] = get_args(SearchMode)
