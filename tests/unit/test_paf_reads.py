"""The PAF read's pure steps (stores/pafs/reads.py)."""

from __future__ import annotations

import pytest
from tta_memory.errors import InvalidInputError
from tta_memory.stores.pafs.reads import to_pafs


def test_fields_that_are_not_a_pafs_give_a_typed_error():
    with pytest.raises(InvalidInputError):
        to_pafs([{"id": "AUTH-001"}])
