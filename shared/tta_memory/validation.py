"""Input checks shared by every public call; each failure is an :class:`InvalidInputError`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from tta_memory.errors import InvalidInputError

MAX_CONTENT_CHARS = 1_000_000
MAX_ID_CHARS = 512
MAX_TAG_CHARS = 256
MAX_TAGS = 64
# Control characters are refused in ids and tags: \x1f separates tags inside the index.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_id(name: str, value: Any) -> str:
    """Return ``value`` if it is a usable id (non-empty, no control characters, bounded)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{name} must be a non-empty string, got {value!r}")
    if len(value) > MAX_ID_CHARS:
        raise InvalidInputError(f"{name} is longer than {MAX_ID_CHARS} characters")
    if _CONTROL.search(value):
        raise InvalidInputError(f"{name} must not contain control characters: {value!r}")
    return value


def check_text(name: str, value: Any, *, allow_empty: bool = False) -> str:
    """Return ``value`` if it is a string within the size limit (and non-blank unless allowed)."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise InvalidInputError(f"{name} must not be empty")
    if len(value) > MAX_CONTENT_CHARS:
        raise InvalidInputError(
            f"{name} is {len(value):,} characters; the limit is {MAX_CONTENT_CHARS:,}"
        )
    return value


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` (an enum member's value or a string) if it is one of ``choices``."""
    options = list(choices)
    raw = getattr(value, "value", value)
    if not isinstance(raw, str) or raw.lower() not in options:
        raise InvalidInputError(f"unknown {name} {value!r}; valid: {', '.join(options)}")
    return raw.lower()


def check_tags(value: Any) -> list[str]:
    """Return the tags as a de-duplicated list in their given order."""
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidInputError(f"tags must be a list of strings, got {value!r}")
    tags: list[str] = []
    for tag in value:
        if not isinstance(tag, str) or not tag.strip():
            raise InvalidInputError(f"each tag must be a non-empty string, got {tag!r}")
        if len(tag) > MAX_TAG_CHARS or _CONTROL.search(tag):
            raise InvalidInputError(f"tag {tag!r} is too long or contains control characters")
        if tag != tag.strip():
            raise InvalidInputError(f"tag {tag!r} has leading or trailing whitespace")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise InvalidInputError(f"at most {MAX_TAGS} tags, got {len(tags)}")
    return tags


def check_metadata(value: Any) -> dict[str, Any]:
    """Return a JSON-serialisable dict (``None`` -> ``{}``)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"metadata must be a dict, got {type(value).__name__}")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"metadata must be JSON-serialisable: {exc}") from exc
    return dict(value)


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> int:
    """Return ``value`` if it is a positive integer (or zero when allowed)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        raise InvalidInputError(
            f"{name} must be a {'non-negative' if allow_zero else 'positive'} "
            f"integer, got {value!r}"
        )
    return value


def check_datetime(name: str, value: Any) -> datetime | None:
    """Return an aware UTC datetime (naive values are taken as UTC); ``None`` passes."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInputError(f"{name} is not an ISO-8601 datetime: {value!r}") from exc
    if not isinstance(value, datetime):
        raise InvalidInputError(f"{name} must be a datetime, got {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
