"""Logs and traces of the engine's public calls.

**Logging.** Everything logs under the ``tta_memory`` logger (``tta_memory.server`` for the
embedded server, ``tta_memory.calls`` for calls), silent by default: the package attaches a
``NullHandler``; turn it on with ``logging.basicConfig(level=logging.INFO)`` or
``tta-memory --debug``. A call slower than ``TTA_MEMORY_SLOW_CALL_MS`` (default 1000 ms) logs a
WARNING with its name, workspace and duration; every call logs at DEBUG.

**Tracing.** With the ``otel`` extra installed and a tracer provider configured, every public
call of the facade is an OpenTelemetry span ``tta_memory.<method>`` with the attributes
``tta.workspace``, ``tta.user_id``, ``tta.layer``, ``tta.count`` (items returned or written),
``tta.duration_ms``, and for ``load_workflow_context`` ``tta.stage``, ``tta.mode`` and
``tta.<layer>.count`` / ``tta.<layer>.ms`` per loaded layer. Without the extra nothing is
imported and the cost is one ``perf_counter`` pair per call.

Apply with :func:`instrument` on a class (every public coroutine method) or :func:`observed`
on one method.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

__all__ = [
    "LoggedRetry",
    "instrument",
    "layer_of",
    "observed",
    "set_slow_call_ms",
    "set_tracer_provider",
    "slow_call_ms",
]

logger = logging.getLogger("tta_memory.calls")
retry_logger = logging.getLogger("tta_memory.retries")

C = TypeVar("C", bound=type)
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

ENV_SLOW_CALL_MS = "TTA_MEMORY_SLOW_CALL_MS"
DEFAULT_SLOW_CALL_MS = 1000.0

# Method-name fragment -> layer attribute; the first match wins.
_LAYER_WORDS = (
    ("workflow_context", "context"),
    ("session", "session"),
    ("cache", "cache"),
    ("deep", "deep"),
    ("paf", "paf"),
    ("group", "groups"),
)
# The opentelemetry.trace module once imported (False: the extra is not installed).
_trace: Any = None
# A provider given to set_tracer_provider (else the global one), and its tracer.
_provider: Any = None
_tracer: tuple[Any, Any] | None = None


def set_tracer_provider(provider: Any) -> None:
    """Send the engine's spans to ``provider`` instead of the global OpenTelemetry one
    (``None``: back to the global provider)."""
    global _provider, _tracer
    _provider, _tracer = provider, None


def _threshold_from_env() -> float:
    raw = os.environ.get(ENV_SLOW_CALL_MS)
    try:
        value = float(raw) if raw else DEFAULT_SLOW_CALL_MS
    except ValueError:
        return DEFAULT_SLOW_CALL_MS
    return value if value > 0 else DEFAULT_SLOW_CALL_MS


# Read once: an environment lookup per call would cost more than the rest of the wrapper.
_slow_ms = _threshold_from_env()


def slow_call_ms() -> float:
    """The slow-call threshold in milliseconds (``TTA_MEMORY_SLOW_CALL_MS`` at import, default
    1000, or what :func:`set_slow_call_ms` set)."""
    return _slow_ms


def set_slow_call_ms(ms: float | None) -> None:
    """Change the slow-call threshold (``None``: back to the environment's or the default)."""
    global _slow_ms
    _slow_ms = _threshold_from_env() if ms is None else float(ms)


def layer_of(name: str) -> str:
    """The layer a method name belongs to (``engine`` when none fits)."""
    for word, layer in _LAYER_WORDS:
        if word in name:
            return layer
    return "engine"


def _get_tracer() -> Any:
    """The tracer of the configured provider, or ``None`` (no ``otel`` extra, or no provider
    configured: the API's no-op spans would still cost ~20 µs per call here, a tenth of a
    0.2 ms session append)."""
    global _trace, _tracer
    provider = _provider
    if provider is None:
        if _trace is None:
            try:
                from opentelemetry import trace
            except ImportError:
                _trace = False
            else:
                _trace = trace
        if _trace is False:
            return None
        # Reading the global directly: get_tracer_provider() costs microseconds per call.
        provider = getattr(_trace, "_TRACER_PROVIDER", None)
        if provider is None or type(provider).__name__ == "NoOpTracerProvider":
            return None
    if _tracer is None or _tracer[0] is not provider:
        _tracer = (provider, provider.get_tracer("tta_memory"))
    return _tracer[1]


def observed(layer: str | None = None) -> Callable[[F], F]:
    """Decorate a public coroutine method: a span when tracing is on, a log line, a warning
    when slow.

    Args:
        layer: The ``tta.layer`` attribute; default derived from the method name.
    """

    def decorate(fn: F) -> F:
        name = fn.__name__
        which = layer or layer_of(name)

        @functools.wraps(fn)
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            tracer = _get_tracer()
            started = time.perf_counter()
            if tracer is None:
                try:
                    return await fn(self, *args, **kwargs)
                finally:
                    _log(self, name, started)
            with tracer.start_as_current_span(f"tta_memory.{name}") as span:
                span.set_attributes(_scope_attributes(self, which))
                _input_attributes(span, name, args, kwargs)
                try:
                    result = await fn(self, *args, **kwargs)
                except Exception as exc:
                    span.set_attribute("tta.error", type(exc).__name__)
                    raise
                finally:
                    elapsed = _log(self, name, started)
                    span.set_attribute("tta.duration_ms", round(elapsed, 3))
                _result_attributes(span, result)
                return result

        wrapper.__tta_observed__ = True  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def instrument(cls: C) -> C:
    """Wrap every public coroutine method defined on ``cls`` or its bases with :func:`observed`.

    Returns:
        ``cls`` itself (usable as a class decorator).
    """
    for name in dir(cls):
        if name.startswith("_"):
            continue
        attr = inspect.getattr_static(cls, name, None)
        if inspect.iscoroutinefunction(attr) and not getattr(attr, "__tta_observed__", False):
            setattr(cls, name, observed()(attr))
    return cls


def _scope_attributes(obj: Any, layer: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {"tta.layer": layer}
    for attr, key in (("workspace", "tta.workspace"), ("user_id", "tta.user_id")):
        value = getattr(obj, attr, None)
        if isinstance(value, str):
            attrs[key] = value
    return attrs


def _input_attributes(span: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if name == "load_workflow_context":
        stage = kwargs.get("stage", args[1] if len(args) > 1 else None)
        mode = kwargs.get("mode", args[2] if len(args) > 2 else None)
        if stage is not None:
            span.set_attribute("tta.stage", str(stage))
        if mode is not None:
            span.set_attribute("tta.mode", str(getattr(mode, "value", mode)))
    for value in (*args, *kwargs.values()):
        if isinstance(value, list | tuple):
            span.set_attribute("tta.input_count", len(value))
            break


def _result_attributes(span: Any, result: Any) -> None:
    if isinstance(result, list | tuple | dict):
        span.set_attribute("tta.count", len(result))
    metadata = getattr(result, "metadata", None)
    report = metadata.get("memory_report") if isinstance(metadata, Mapping) else None
    if report is None:
        return
    layers = getattr(report, "layers", None)
    if layers is None and isinstance(report, Mapping):
        layers = report.get("layers")
    total = 0
    for layer, info in (layers or {}).items():
        count = _field(info, "count")
        ms = _field(info, "ms")
        if count is not None:
            span.set_attribute(f"tta.{layer}.count", int(count))
            total += int(count)
        if ms is not None:
            span.set_attribute(f"tta.{layer}.ms", float(ms))
    span.set_attribute("tta.count", total)


def _field(info: Any, name: str) -> Any:
    return info.get(name) if isinstance(info, Mapping) else getattr(info, name, None)


def _log(obj: Any, name: str, started: float) -> float:
    elapsed = (time.perf_counter() - started) * 1000
    if elapsed >= _slow_ms:
        logger.warning(
            "slow call: %s took %.0f ms (workspace %r; threshold %s=%.0f ms)",
            name,
            elapsed,
            getattr(obj, "workspace", None),
            ENV_SLOW_CALL_MS,
            _slow_ms,
        )
    elif logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s: %.1f ms (workspace %r)", name, elapsed, getattr(obj, "workspace", None))
    return elapsed


def _retry_base() -> type:
    from redis.asyncio.retry import Retry

    return Retry


class LoggedRetry(_retry_base()):  # type: ignore[misc]
    """redis-py's async ``Retry`` that logs every retried failure (INFO on
    ``tta_memory.retries``): the command, the error and the attempt, so a slow call can be
    told apart from a flaky connection."""

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[Any]],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> Any:
        retries = getattr(self, "_retries", 0)
        failures = 0

        async def logged(error: Exception, *count: int) -> Any:
            nonlocal failures
            failures += 1
            if retries < 0 or failures <= retries:
                retry_logger.info(
                    "Redis call failed (%s: %s); retry %d of %s",
                    type(error).__name__,
                    error,
                    failures,
                    retries if retries >= 0 else "unlimited",
                )
            return await fail(error, *count)

        return await super().call_with_retry(do, logged, is_retryable, with_failure_count)
