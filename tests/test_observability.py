"""Logs and OpenTelemetry spans of the engine's public calls, against the tests' real server;
spans are collected with the SDK's in-memory exporter."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tta_memory import (
    MemoryWorkflowPrimitive,
    SessionGroupPrimitive,
    WorkflowContext,
    WorkflowMode,
    observability,
)
from tta_memory.errors import InvalidInputError


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """A tracer of our own (the global provider is left alone for the other tests)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    observability.set_tracer_provider(provider)
    yield exporter
    observability.set_tracer_provider(None)
    provider.shutdown()


async def test_every_public_call_is_a_span_with_scope_layer_and_counts(
    memory: MemoryWorkflowPrimitive, workspace: str, spans: InMemorySpanExporter
) -> None:
    await memory.add_session_message("s1", "user", "Implement JWT auth")
    await memory.create_deep_memories([{"text": "refresh tokens rotate"}, {"text": "use RS256"}])
    found = await memory.search_deep_memory("tokens", limit=5)
    ctx = WorkflowContext(workflow_id="wf", session_id="s1")
    await memory.load_workflow_context(ctx, "understand", WorkflowMode.AUGSTER_RIGOROUS)

    by_name = {s.name: s for s in spans.get_finished_spans()}
    for name in (
        "tta_memory.add_session_message",
        "tta_memory.create_deep_memories",
        "tta_memory.search_deep_memory",
        "tta_memory.load_workflow_context",
    ):
        attrs = by_name[name].attributes or {}
        assert attrs["tta.workspace"] == workspace and attrs["tta.user_id"] == "test-user"
        assert attrs["tta.duration_ms"] >= 0
    assert by_name["tta_memory.add_session_message"].attributes["tta.layer"] == "session"
    created = by_name["tta_memory.create_deep_memories"].attributes
    assert created["tta.layer"] == "deep"
    assert created["tta.input_count"] == 2 and created["tta.count"] == 2
    assert by_name["tta_memory.search_deep_memory"].attributes["tta.count"] == len(found) == 2
    load = by_name["tta_memory.load_workflow_context"].attributes
    assert load["tta.layer"] == "context"
    assert (load["tta.stage"], load["tta.mode"]) == ("understand", "augster_rigorous")
    assert load["tta.session.count"] == 1 and load["tta.deep.count"] == 2
    assert load["tta.deep.ms"] >= 0
    assert load["tta.count"] == sum(
        v for k, v in load.items() if k.endswith(".count") and k != "tta.count"
    )


async def test_a_failed_call_is_a_span_with_its_error(
    memory: MemoryWorkflowPrimitive, spans: InMemorySpanExporter
) -> None:
    with pytest.raises(InvalidInputError):
        await memory.add_session_message("s1", "robot", "an unknown role")
    [span] = [s for s in spans.get_finished_spans() if s.name.endswith("add_session_message")]
    assert span.attributes["tta.error"] == "InvalidInputError"
    assert span.status.status_code.name == "ERROR"


async def test_the_paf_and_group_facades_are_traced(
    memory: MemoryWorkflowPrimitive, groups: SessionGroupPrimitive, spans: InMemorySpanExporter
) -> None:
    await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT")
    await groups.create_group("Auth", tags=["auth"])
    await groups.list_groups(tags=["auth"])
    by_name = {s.name: s.attributes or {} for s in spans.get_finished_spans()}
    assert by_name["tta_memory.add_paf"]["tta.layer"] == "paf"
    assert by_name["tta_memory.create_group"]["tta.layer"] == "groups"
    assert by_name["tta_memory.list_groups"]["tta.count"] == 1


def test_sync_calls_are_traced_too(
    memory: MemoryWorkflowPrimitive, spans: InMemorySpanExporter
) -> None:
    memory.sync.get_session_context("nobody")
    assert [s.name for s in spans.get_finished_spans()] == ["tta_memory.get_session_context"]


async def test_slow_calls_log_a_warning_and_logging_is_silent_by_default(
    memory: MemoryWorkflowPrimitive,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    observability.set_slow_call_ms(0.000001)  # every call is "slow"
    try:
        with caplog.at_level(logging.WARNING, logger="tta_memory"):
            await memory.get_session_context("s1")
    finally:
        observability.set_slow_call_ms(None)
    [record] = [r for r in caplog.records if r.name == "tta_memory.calls"]
    assert record.levelno == logging.WARNING
    assert "slow call: get_session_context took" in record.getMessage()
    assert memory.workspace in record.getMessage()
    assert "TTA_MEMORY_SLOW_CALL_MS" in record.getMessage()

    # Nothing configured: a warning of the engine reaches no handler and prints nothing.
    probe = (
        "import logging, tta_memory\n"
        "logging.getLogger('tta_memory.calls').warning('should stay silent')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stderr == ""


def test_the_threshold_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTA_MEMORY_SLOW_CALL_MS", "250")
    observability.set_slow_call_ms(None)
    assert observability.slow_call_ms() == 250
    monkeypatch.setenv("TTA_MEMORY_SLOW_CALL_MS", "not a number")
    observability.set_slow_call_ms(None)
    assert observability.slow_call_ms() == 1000
    monkeypatch.delenv("TTA_MEMORY_SLOW_CALL_MS")
    observability.set_slow_call_ms(None)


def test_the_global_provider_is_used_once_configured(redis_url: str, workspace: str) -> None:
    probe = (
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
        "from opentelemetry.sdk.trace.export.in_memory_span_exporter import "
        "InMemorySpanExporter\n"
        "from tta_memory import MemoryWorkflowPrimitive\n"
        f"m = MemoryWorkflowPrimitive({redis_url!r}, 'u', workspace={workspace!r})\n"
        "m.sync.list_sessions()\n"  # before: no provider, no span
        "exporter = InMemorySpanExporter()\n"
        "provider = TracerProvider()\n"
        "provider.add_span_processor(SimpleSpanProcessor(exporter))\n"
        "trace.set_tracer_provider(provider)\n"
        "m.sync.list_sessions()\n"
        "print([s.name for s in exporter.get_finished_spans()])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.strip() == "['tta_memory.list_sessions']"


def test_layer_names() -> None:
    assert observability.layer_of("load_workflow_context") == "context"
    assert observability.layer_of("archive_session_messages") == "session"
    assert observability.layer_of("promote_cache_entry") == "cache"
    assert observability.layer_of("list_groups") == "groups"
    assert observability.layer_of("get_active_pafs") == "paf"
    assert observability.layer_of("aclose") == "engine"


async def test_index_creation_is_logged(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    import uuid

    from tta_memory import Settings

    prefix = f"obs{uuid.uuid4().hex[:8]}"
    memory = MemoryWorkflowPrimitive(
        redis_url, "u", workspace="w", settings=Settings(prefix=prefix)
    )
    with caplog.at_level(logging.INFO, logger="tta_memory"):
        await memory.add_session_message("s1", "user", "hello")  # the first use of a partition
    created = [r.getMessage() for r in caplog.records if r.name == "tta_memory.backend"]
    keys = memory.context.keys  # a partition's indexes, created on its first use
    assert f"created index {keys.index_name('cache')}" in created
    assert f"created index {keys.index_name('group')}" in created
