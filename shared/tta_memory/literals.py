"""The literal types of the engine, defined once (adapters import them from here)."""

from __future__ import annotations

from typing import Literal, cast, get_args

Role = Literal["user", "assistant", "system", "tool"]
ROLES: tuple[str, ...] = get_args(Role)

# Role names other frameworks use, mapped to the nearest engine role (adapters keep the original
# message alongside, so nothing is lost).
ROLE_ALIASES: dict[str, Role] = {
    "human": "user",
    "ai": "assistant",
    "chatbot": "assistant",
    "model": "assistant",
    "developer": "system",
    "function": "tool",
}


def to_role(name: str) -> Role:
    """The engine role for a framework's role name (case-insensitive); unknown ones are
    ``"user"``."""
    key = name.lower()
    if key in ROLES:
        return cast(Role, key)
    return ROLE_ALIASES.get(key, "user")


Layer = Literal["paf", "deep", "cache", "session"]
# The order a loaded context presents its layers in: constraints first, the conversation last.
LAYERS: tuple[Layer, ...] = get_args(Layer)

SearchMode = Literal["hybrid", "vector", "text"]
SEARCH_MODES: tuple[str, ...] = get_args(SearchMode)
