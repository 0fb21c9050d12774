"""``tta-memory doctor``: check the Redis URL, server, modules, indexes and embedding model."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from tta_memory.cli.common import add_url_arg, resolve_url
from tta_memory.cli.errors import EXIT_ERROR, EXIT_OK, first_line
from tta_memory.errors import TTAMemoryError

if TYPE_CHECKING:
    from tta_memory.config import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``doctor`` command."""
    p = sub.add_parser(
        "doctor",
        help="check the Redis URL, server, modules, indexes and embedding model",
        description="Check the setup end to end; exit code 1 when something is wrong.",
    )
    add_url_arg(p)
    p.add_argument("--no-model", action="store_true", help="skip loading the model")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(func=doctor)


class Check(NamedTuple):
    """One line of ``tta-memory doctor``: ``level`` is ok, warn or fail."""

    name: str
    level: str
    detail: str


def run_doctor(url: str | None = None, *, check_model: bool = True) -> list[Check]:
    """Diagnose a setup: URL, server, modules, indexes, embedding model.

    Args:
        url: Explicit Redis URL (else the configured/embedded one).
        check_model: Load the embedding model offline and embed a probe text.

    Returns:
        The checks in order; any ``fail`` means the engine will not work as configured.
    """
    import redis

    from tta_memory.config import Settings
    from tta_memory.server import redact_url

    checks: list[Check] = []
    try:
        target = resolve_url(url)
    except TTAMemoryError as exc:
        return [Check("redis url", "fail", first_line(exc))]
    resolved = target.url
    shown = redact_url(resolved)
    source = "embedded server, " + target.detail if target.embedded else target.source
    checks.append(Check("redis url", "ok", f"{shown}  (from {source})"))

    settings = Settings()
    client = redis.Redis.from_url(
        resolved, socket_timeout=5, socket_connect_timeout=3, decode_responses=True
    )
    try:
        try:
            info = client.info("server")
        except redis.RedisError as exc:
            checks.append(Check("server", "fail", f"cannot reach {shown}: {exc}"))
            return checks
        checks.append(
            Check(
                "server",
                "ok",
                f"Redis {info.get('redis_version')} ({info.get('redis_mode', 'standalone')})",
            )
        )
        module_checks = _module_checks(client)
        checks.extend(module_checks)
        if module_checks[0].level != "fail":  # indexes need the Query Engine
            checks.extend(_index_checks(client, settings))
        checks.extend(_model_check(client, settings, load=check_model))
    finally:
        client.close()
    return checks


def _module_checks(client: Any) -> list[Check]:
    import redis

    from tta_memory.server.process import format_module_version, loaded_modules

    modules: dict[str, Any] = {}
    with contextlib.suppress(redis.RedisError):
        # Managed services may refuse MODULE LIST: the commands are probed instead.
        modules = loaded_modules(client)
    search = "search" in modules or _has_command(client, "FT._LIST")
    json_ok = "ReJSON" in modules or _has_command(client, "JSON.TYPE", "tta-memory:doctor:probe")
    out = []
    if search:
        ver = modules.get("search")
        version = f" {format_module_version(ver)}" if ver else ""
        ok_version = ver is None or int(ver) >= 20600
        out.append(
            Check(
                "query engine",
                "ok" if ok_version else "fail",
                f"search{version}"
                + ("" if ok_version else " is older than the required RediSearch 2.6"),
            )
        )
    else:
        out.append(
            Check(
                "query engine",
                "fail",
                "missing: this Redis has no Query Engine (RediSearch). Use Redis 8+, Redis Stack "
                "7.2+, Redis Cloud, or unset the URL to use the embedded server "
                "(pip install 'tta-memory[embedded]').",
            )
        )
    if json_ok:
        ver = modules.get("ReJSON")
        out.append(Check("json", "ok", f"ReJSON {format_module_version(ver)}" if ver else "JSON"))
    else:
        out.append(
            Check(
                "json",
                "warn",
                "missing: no JSON module (the engine stores hashes and works without it; Redis "
                "8+ and Redis Stack include it).",
            )
        )
    return out  # the Query Engine check first: run_doctor reads it


def _has_command(client: Any, *command: str) -> bool:
    """Whether the server knows ``command`` (run read-only on a key that does not exist)."""
    import redis

    try:
        client.execute_command(*command)
    except redis.ResponseError as exc:
        return "unknown command" not in str(exc).lower()
    except redis.RedisError:
        return False
    return True


def _index_checks(client: Any, settings: Settings) -> list[Check]:
    import redis

    from tta_memory import replies
    from tta_memory.context import DEFAULT_WORKSPACE
    from tta_memory.partitions import INDEX_KINDS, PartitionLayout

    existing = set(client.execute_command("FT._LIST") or [])
    parts = []
    # Each partition has its own indexes: report those of the configured workspace.
    layout = PartitionLayout(
        buckets=settings.partition_buckets, dedicated=settings.dedicated_workspaces
    )
    workspace = os.environ.get("TTA_MEMORY_WORKSPACE") or DEFAULT_WORKSPACE
    partition = layout.partition_for(workspace)
    ours = sum(1 for n in existing if str(n).startswith(f"{settings.prefix}:idx:"))
    parts.append(f"{ours} partition indexes; workspace {workspace!r} in {partition.hashtag}")
    for layer in INDEX_KINDS:
        name = partition.index_name(settings.prefix, layer)
        if name not in existing:
            parts.append(f"{layer}: not created yet (created on first use)")
            continue
        try:
            raw = client.execute_command("FT.INFO", name)
            info = replies.pairs(raw)
            parts.append(f"{layer} ({name}): {info.get('num_docs')} docs")
        except redis.RedisError as exc:
            return [Check("indexes", "fail", f"FT.INFO {name} failed: {exc}")]
    others = sorted(n for n in existing if not str(n).startswith(f"{settings.prefix}:"))
    detail = "; ".join(parts)
    if others:
        detail += f"; other indexes on this server: {', '.join(map(str, others))}"
    return [Check("indexes", "ok", f"prefix {settings.prefix!r}: {detail}")]


def _model_check(client: Any, settings: Settings, *, load: bool) -> list[Check]:
    import redis

    from tta_memory.embeddings import default_embedder
    from tta_memory.keys import Keys

    out: list[Check] = []
    try:
        embedder = default_embedder()
    except TTAMemoryError as exc:
        return [Check("embedding model", "fail", str(exc))]
    name, dims = embedder.model_name, None
    try:
        recorded = client.hgetall(Keys.meta(settings.prefix))
    except redis.RedisError:
        recorded = {}
    if load:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        started = time.perf_counter()
        try:
            vector = embedder.vectorizer.embed("tta-memory doctor probe")
            dims = len(vector)
            elapsed = time.perf_counter() - started
            out.append(
                Check(
                    "embedding model",
                    "ok",
                    f"{name} ({dims} dims) loads offline "
                    f"(HF_HUB_OFFLINE={os.environ.get('HF_HUB_OFFLINE')}) in {elapsed:.1f}s",
                )
            )
        except Exception as exc:  # any loader failure is the diagnosis itself
            out.append(Check("embedding model", "fail", f"{name} failed to load offline: {exc}"))
    else:
        out.append(Check("embedding model", "warn", f"{name}, not loaded (--no-model)"))
    if recorded:
        r_model, r_dims = recorded.get("embedding_model"), recorded.get("dims")
        # A record from before vector types were recorded means float32 (backend.deep_index).
        r_dtype = recorded.get("vector_dtype") or "float32"
        same = r_model == name and (dims is None or str(dims) == str(r_dims))
        wanted = settings.vector_dtype
        why = ""
        if not same:
            why = (
                f" but this process embeds with {name} ({dims} dims): use the same "
                "model, another TTA_MEMORY_PREFIX, or re-embed via export/import"
            )
        elif wanted is not None and wanted != r_dtype:
            why = (
                f" but TTA_MEMORY_VECTOR_DTYPE asks for {wanted}: unset it, use another "
                "TTA_MEMORY_PREFIX, or move the data via export/import"
            )
        out.append(
            Check(
                "index embeddings",
                "fail" if why else "ok",
                f"deep index built with {r_model} ({r_dims} dims, {r_dtype} vectors){why}",
            )
        )
    return out


def doctor(args: argparse.Namespace) -> int:
    """``tta-memory doctor``; exit code 1 when any check fails."""
    checks = run_doctor(args.url, check_model=not args.no_model)
    failed = any(c.level == "fail" for c in checks)
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [c._asdict() for c in checks]}, indent=2))
    else:
        marks = {"ok": "[ ok ]", "warn": "[warn]", "fail": "[FAIL]"}
        for c in checks:
            print(f"{marks[c.level]} {c.name:<17} {c.detail}")
        print("all good" if not failed else "problems found (see [FAIL] above)")
    return EXIT_ERROR if failed else EXIT_OK
