"""The typed ``.sync`` Protocols match the async methods they stand for (regenerate them with
``python scripts/gen_sync_api.py`` when this fails)."""

from __future__ import annotations

import inspect

import pytest
from tta_memory import (
    MemoryWorkflowPrimitive,
    PAFPrimitive,
    SessionGroupPrimitive,
    sync_api,
    sync_stores,
)
from tta_memory.stores.cache import CacheStore
from tta_memory.stores.deep import DeepStore
from tta_memory.stores.groups import GroupStore
from tta_memory.stores.pafs import PAFStore
from tta_memory.stores.sessions import SessionStore


def _shape(fn):
    sig = inspect.signature(inspect.unwrap(fn))
    params = [
        (p.name, p.kind, str(p.annotation), p.default is not p.empty)
        for p in sig.parameters.values()
    ]
    return params, str(sig.return_annotation)


@pytest.mark.parametrize(
    "cls",
    [
        MemoryWorkflowPrimitive,
        PAFPrimitive,
        SessionGroupPrimitive,
        SessionStore,
        CacheStore,
        DeepStore,
        PAFStore,
        GroupStore,
    ],
)
def test_protocol_has_every_coroutine_with_its_signature(cls):
    module = sync_stores if cls.__module__.startswith("tta_memory.stores") else sync_api
    proto = getattr(module, f"Sync{cls.__name__}")
    coroutines = {
        n
        for n in dir(cls)
        if not n.startswith("_") and inspect.iscoroutinefunction(getattr(cls, n))
    }
    declared = {n for n in vars(proto) if not n.startswith("_") and callable(vars(proto)[n])}
    assert coroutines <= declared
    for name in coroutines:
        assert _shape(getattr(proto, name)) == _shape(getattr(cls, name)), name


def test_the_sync_proxy_gives_blocking_twins_and_nested_proxies():
    memory = MemoryWorkflowPrimitive("redis://127.0.0.1:1", "u", workspace="w")
    twin = memory.sync.add_session_message
    assert not inspect.iscoroutinefunction(twin) and twin.__name__ == "add_session_message"
    assert memory.sync.paf_primitive is memory.paf_primitive.sync
    assert memory.sync.deep is memory.deep.sync
    assert not inspect.iscoroutinefunction(memory.sync.sessions.add)
