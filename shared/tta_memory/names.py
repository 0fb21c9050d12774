"""One rule for names, and the one way they enter a RediSearch tag query.

Names are workspace, user, session, group, memory-type, tag and record ids. They are checked
here and nowhere else, because two names that Redis would treat as one leak data between
tenants: RediSearch strips the spaces around a TAG value when it indexes it (so ``"acme "`` was
indexed as ``acme``), and it drops an unescaped backtick in a tag query (so ``{acme`}`` matched
``acme``). The rule:

- a non-empty ``str`` of at most :data:`MAX_NAME_CHARS` characters (tags:
  :data:`MAX_TAG_CHARS`);
- no leading or trailing whitespace (``str.strip`` decides, so Unicode spaces count too);
- no control characters (Unicode category ``Cc``; ``\\x1f`` also separates tags in the index);
- valid UTF-8 (no lone surrogates such as ``"\\ud800"``, which Redis cannot store).

Names are never normalised: a name that breaks the rule is refused with
:class:`~tta_memory.errors.InvalidInputError`, so what a caller stores is what it reads back.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from redisvl.query.filter import FilterOperator
from redisvl.query.filter import Tag as _RedisVLTag
from redisvl.utils.token_escaper import TokenEscaper

from tta_memory.errors import InvalidInputError

MAX_NAME_CHARS = 512
MAX_TAG_CHARS = 256
MAX_TAGS = 64
# Every printable ASCII character that is not a letter or digit is escaped in tag queries.
# Measured on Redis 8.2: redisvl's escaper misses the backtick (dropped, so `a`` matched `a`)
# and a lone "_" is a syntax error unless escaped; escaping non-ASCII characters breaks their
# match (tried with U+00A0 and U+3000), so those stay as they are.
_TAG_SPECIAL = re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]")


def check_name(kind: str, value: Any, *, max_chars: int = MAX_NAME_CHARS) -> str:
    """Return ``value`` if it follows the name rule of this module.

    Args:
        kind: What the name is (``"workspace"``, ``"session_id"``…), for the error message.
        value: The name to check.
        max_chars: The longest name allowed.

    Returns:
        ``value`` unchanged.

    Raises:
        InvalidInputError: ``value`` is not a string, empty, too long, has leading or trailing
            whitespace, control characters or lone surrogates.
    """
    if not isinstance(value, str):
        raise InvalidInputError(f"{kind} must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidInputError(f"{kind} must not be empty")
    if len(value) > max_chars:
        raise InvalidInputError(f"{kind} is longer than {max_chars} characters")
    if value != value.strip():
        raise InvalidInputError(
            f"{kind} {value!r} has leading or trailing whitespace (Redis would not tell it "
            "apart from the name without it)"
        )
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise InvalidInputError(f"{kind} must not contain control characters: {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"{kind} is not valid Unicode text (lone surrogate)") from exc
    return value


def check_tags(value: Any) -> list[str]:
    """Return the tags as a de-duplicated list in their given order (``None`` -> ``[]``).

    Raises:
        InvalidInputError: Not a list of names, a tag breaks the name rule, or more than
            :data:`MAX_TAGS` tags.
    """
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidInputError(f"tags must be a list of strings, got {value!r}")
    tags: list[str] = []
    for tag in value:
        check_name("tag", tag, max_chars=MAX_TAG_CHARS)
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise InvalidInputError(f"at most {MAX_TAGS} tags, got {len(tags)}")
    return tags


def escape_tag(value: str) -> str:
    """Escape ``value`` for a RediSearch tag clause (``@field:{...}``)."""
    return _TAG_SPECIAL.sub(lambda m: "\\" + m.group(0), value)


class _TagEscaper(TokenEscaper):
    def escape(self, value: str, preserve_wildcards: bool = False) -> str:
        return escape_tag(value)


class Tag(_RedisVLTag):
    """redisvl's ``Tag`` filter with complete escaping, refusing empty values.

    redisvl turns ``Tag("f") == []`` (or ``""``) into ``*``, a match-all that would widen a
    query; here it raises instead. Wildcard matching (``%``) is not offered.
    """

    escaper = _TagEscaper()

    def _set_tag_value(self, other: Any, operator: FilterOperator) -> None:
        values = [other] if isinstance(other, str) else list(other or [])
        if not values or any(not isinstance(v, str) or not v for v in values):
            raise InvalidInputError(f"a filter on {self._field!r} needs non-empty strings")
        super()._set_tag_value(values, operator)

    def __mod__(self, other: Any) -> Any:
        raise InvalidInputError("wildcard tag matching is not supported")
