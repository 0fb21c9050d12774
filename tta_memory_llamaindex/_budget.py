"""Token budgets: LlamaIndex's ``Memory`` counts tokens, the engine's renderer counts characters."""

from __future__ import annotations

import math

from llama_index.core.utils import get_tokenizer


def chars_for_tokens(content: str, tokens: int) -> int:
    """Return how many characters of ``content`` make about ``tokens`` tokens.

    The ratio is measured on ``content`` itself with LlamaIndex's global tokenizer (the one
    ``Memory`` uses by default), so code, prose and non-Latin text all convert fairly.

    Args:
        content: The text a block rendered.
        tokens: A number of tokens ``Memory`` asked to remove.

    Returns:
        The matching number of characters (at least ``tokens``, when ``tokens`` > 0).
    """
    if tokens <= 0 or not content:
        return 0
    measured = max(1, len(get_tokenizer()(content)))
    return max(tokens, math.ceil(tokens * len(content) / measured))
