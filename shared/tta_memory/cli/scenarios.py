"""The usage guide's scenarios 1-3, run end to end against a real Redis (``tta-memory demo``).

Scenario 1 (feature development over three days, dev-alice), scenario 2 (bug investigation,
dev-bob) and scenario 3 (code review with historical context, reviewer-charlie) run as the guide
writes them, in one workspace (``tta-demo``) emptied first, so reruns never pile up. Between
day 2 and day 3 the demo loads the day-2 session's context for every stage and mode and prints
what each layer contributed, with the timings of the engine's ``memory_report``. A small set
of background team memories is written first, so that the deep-search limits of the stages
(top 5 / 10 / 20) are visible rather than capped by the three memories the guide creates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tta_memory.cli import stage_loads
from tta_memory.cli.stage_loads import LAYERS, StageLoad
from tta_memory.models import GroupStatus, WorkflowContext, WorkflowMode

__all__ = ["LAYERS", "MODES", "STAGES", "DemoResult", "StageLoad", "run_demo"]

STAGES = ("understand", "decompose", "plan", "implement", "verify", "review")
MODES = (WorkflowMode.RAPID, WorkflowMode.STANDARD, WorkflowMode.AUGSTER_RIGOROUS)

# Team knowledge other developers wrote before the feature started.
BACKGROUND_MEMORIES: list[tuple[str, list[str], str]] = [
    ("Access tokens live 15 minutes; refresh tokens 14 days, stored hashed.",
     ["auth", "jwt", "security"], "decision"),
    ("Sign JWTs with RS256; keep the private key in the secrets manager, never in env files.",
     ["auth", "jwt", "security"], "decision"),
    ("Validate the aud and iss claims on every token, not only the signature.",
     ["auth", "jwt", "pattern"], "pattern"),
    ("Revoke refresh tokens by family id so a stolen token kills the whole chain.",
     ["auth", "refresh-tokens", "security"], "pattern"),
    ("Rate-limit /login per IP and per account: 5 attempts per minute.",
     ["auth", "security"], "decision"),
    ("Password hashing uses argon2id with the library defaults.",
     ["auth", "security"], "decision"),
    ("Return 401 for a bad token and 403 for a valid token without the scope.",
     ["auth", "api"], "pattern"),
    ("Session cookies: HttpOnly, Secure, SameSite=Lax.", ["auth", "security", "web"], "pattern"),
    ("The auth middleware caches the JWKS for 10 minutes and refetches on unknown kid.",
     ["auth", "jwt", "pattern"], "pattern"),
    ("Clock drift between pods reached 40 s during the March incident.",
     ["infra", "clock-skew"], "observation"),
    ("Token introspection endpoint must never log the raw token.",
     ["auth", "logging", "security"], "decision"),
    ("Integration tests mint tokens with a fixed test key from conftest.",
     ["testing", "jwt"], "pattern"),
    ("Database connection pool: 20 connections per API pod.",
     ["database", "performance"], "observation"),
    ("Slow query on users.email fixed by a partial index on active users.",
     ["database", "performance", "bug-fix"], "bug-resolution"),
    ("Use UUIDv7 for public ids so they sort by creation time.",
     ["database", "api"], "decision"),
    ("All timestamps are stored in UTC and rendered in the user's zone.", ["api"], "decision"),
    ("Feature flags are read once per request, never mid-request.", ["infra"], "pattern"),
    ("Error responses follow RFC 9457 problem+json.", ["api"], "decision"),
    ("OAuth login via GitHub is out of scope until Q1.", ["auth", "scope"], "decision"),
    ("Logout deletes the refresh token and adds the access token jti to a short denylist.",
     ["auth", "jwt", "refresh-tokens"], "pattern"),
    ("Multi-factor auth codes are TOTP, 30 s step, one step of tolerance.",
     ["auth", "security"], "decision"),
    ("API keys for service accounts are separate from user JWTs.",
     ["auth", "api"], "decision"),
    ("Load tests: login p95 must stay below 150 ms at 200 rps.",
     ["auth", "performance"], "observation"),
    ("CI runs the auth test suite against a real Redis, never a mock.",
     ["testing", "auth"], "pattern"),
]  # fmt: skip


@dataclass
class DemoResult:
    """Outcome of :func:`run_demo`.

    Attributes:
        workspace: The workspace the demo wrote to.
        redis_url: The Redis it ran on.
        group_id: The scenario-1 session group.
        sessions: Every session the scenarios wrote.
        loads: One :class:`StageLoad` per context load (scenario-1 day 2, the stage x mode
            table, scenario 2's rapid load).
        found: What the searches of scenarios 2 and 3 returned (texts), by label.
        seconds: Wall time of the whole demo.
    """

    workspace: str
    redis_url: str
    group_id: str = ""
    sessions: list[str] = field(default_factory=list)
    loads: list[StageLoad] = field(default_factory=list)
    found: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0


async def run_demo(
    redis_url: str | None = None,
    workspace: str = "tta-demo",
    out: Callable[[str], Any] = print,
    *,
    remove: bool = False,
) -> DemoResult:
    """Run the usage guide's scenarios 1-3 and report what every stage and mode loads.

    Args:
        redis_url: Redis URL; ``None`` for the configured one or the embedded server.
        workspace: Workspace to write to; everything in it is deleted first.
        out: Receives each output line (default ``print``).
        remove: Delete the workspace at the end as well.

    Returns:
        A :class:`DemoResult` with the loads, the search results and the wall time.
    """
    from tta_memory import MemoryWorkflowPrimitive, SessionGroupPrimitive
    from tta_memory.server import redact_url
    from tta_memory.workspaces import delete_workspace

    started = time.perf_counter()
    now = datetime.now(UTC)
    day = now.strftime("%Y%m%d")

    memory = MemoryWorkflowPrimitive(redis_url=redis_url, user_id="dev-alice", workspace=workspace)
    groups = SessionGroupPrimitive(redis_url=redis_url, user_id="dev-alice", workspace=workspace)
    result = DemoResult(workspace=workspace, redis_url=redact_url(memory.redis_url))
    cleared = await delete_workspace(memory)
    reset = f" (reset: {cleared.total} old records deleted)" if cleared.total else ""
    out(f"tta-memory demo: workspace {workspace!r} on {result.redis_url}{reset}")

    # ------------------------------------------------------------------ scenario 1, day 1
    out("")
    out("Scenario 1: feature development over three days (dev-alice)")
    t = time.perf_counter()
    group_id = await groups.create_group(
        name="Authentication Feature",
        description="JWT authentication with refresh tokens",
        tags=["auth", "security", "jwt"],
        status=GroupStatus.ACTIVE,
    )
    result.group_id = group_id
    session_id = f"auth-research-{day}"
    await groups.add_session_to_group(group_id, session_id)
    await memory.add_session_message(
        session_id=session_id,
        role="user",
        content="Research JWT libraries for Python: PyJWT vs python-jose",
    )
    t_embed = time.perf_counter()
    await memory.create_deep_memory(
        text="PyJWT is more lightweight (good for our use case). python-jose has more features "
        "but higher complexity.",
        tags=["research", "jwt", "libraries"],
        metadata={"category": "technical-decision", "session_id": session_id},
    )
    first_embed = time.perf_counter() - t_embed
    paf = await memory.paf_primitive.add_paf(
        category="AUTH",
        fact_id="001",
        description="Use PyJWT for token generation and validation",
        rationale="Lightweight, well-maintained, sufficient for our needs",
    )
    result.sessions.append(session_id)
    out(f"  day 1: group {group_id} 'Authentication Feature', session {session_id}")
    out(f"         +1 message, +1 deep memory, PAF {paf.id}: {paf.description}")
    out(
        f"         {_secs(time.perf_counter() - t)} "
        f"(first embedding, which loads the model: {_secs(first_embed)})"
    )

    # ------------------------------------------------------------------ scenario 1, day 2
    session_id_day2 = f"auth-impl-{day}"
    await groups.add_session_to_group(group_id, session_id_day2)
    ctx = WorkflowContext(
        workflow_id=group_id,
        session_id=session_id_day2,
        metadata={"group_id": group_id},
        state={},
    )
    enriched = await memory.load_workflow_context(
        context=ctx, stage="implement", mode=WorkflowMode.AUGSTER_RIGOROUS
    )
    load = stage_loads.stage_load("implement", WorkflowMode.AUGSTER_RIGOROUS, enriched.metadata)
    result.loads.append(load)
    out(f"  day 2: implement / augster_rigorous loaded: {stage_loads.summary(load)}")
    await memory.add_session_message(
        session_id=session_id_day2,
        role="assistant",
        content="Implemented JWT generation with PyJWT, added refresh token rotation",
    )
    await memory.create_deep_memory(
        text="Refresh token rotation pattern: Generate new refresh token on each use, "
        "invalidate old one",
        tags=["pattern", "jwt", "refresh-tokens"],
        metadata={"category": "successful-pattern", "session_id": session_id_day2},
    )
    result.sessions.append(session_id_day2)
    out("         +1 message, +1 deep memory (refresh-token rotation pattern)")

    # ------------------------------------------------------------------ stage x mode table
    t = time.perf_counter()
    await memory.create_deep_memories(
        [
            {"text": text, "tags": tags, "memory_type": kind}
            for text, tags, kind in BACKGROUND_MEMORIES
        ]
    )
    out(
        f"  background: +{len(BACKGROUND_MEMORIES)} team memories (one batch, "
        f"{_secs(time.perf_counter() - t)}) so the stages' deep-search limits show"
    )
    out(f"  what each stage and mode loads for session {session_id_day2}")
    out("  (items loaded (ms), '-' = layer not read):")
    out("    " + stage_loads.header())
    for stage in STAGES:
        for mode in MODES:
            enriched = await memory.load_workflow_context(ctx, stage, mode)
            load = stage_loads.stage_load(stage, mode, enriched.metadata)
            result.loads.append(load)
            out("    " + stage_loads.row(load))

    # ------------------------------------------------------------------ scenario 1, day 3
    session_id_day3 = f"auth-test-{day}"
    await groups.add_session_to_group(group_id, session_id_day3)
    result.sessions.append(session_id_day3)
    await groups.update_group_status(group_id, GroupStatus.CLOSED)
    summary = await groups.get_group_summary(group_id)
    out(f"  day 3: session {session_id_day3} added, group closed")
    out(f"         Feature '{summary['name']}' completed!")
    out(f"         Sessions: {len(summary['session_ids'])}")
    out(f"         Duration: {summary['created_at']} -> {summary['updated_at']}")

    # ------------------------------------------------------------------ scenario 2
    out("")
    out("Scenario 2: bug investigation (dev-bob)")
    bob = MemoryWorkflowPrimitive(redis_url=redis_url, user_id="dev-bob", workspace=workspace)
    bug_session = "bug-investigation-prod-error"
    await bob.add_session_message(
        session_id=bug_session,
        role="user",
        content="Production error: JWT token validation failing intermittently",
    )
    result.sessions.append(bug_session)
    bug_ctx = WorkflowContext(
        workflow_id="bug-jwt-validation", session_id=bug_session, metadata={}, state={}
    )
    enriched = await bob.load_workflow_context(
        context=bug_ctx, stage="understand", mode=WorkflowMode.RAPID
    )
    load = stage_loads.stage_load("understand", WorkflowMode.RAPID, enriched.metadata)
    result.loads.append(load)
    out(f"  understand / rapid loaded: {stage_loads.summary(load)}")
    recent_issues = await bob.get_cache_memory(session_id=None, time_window_hours=24)
    out(f"  cache, last 24 h, all of dev-bob's sessions: {_plural(len(recent_issues), 'entry')}")
    jwt_patterns = await bob.search_deep_memory(
        query="JWT validation errors", limit=5, tags=["jwt", "error"]
    )
    result.found["jwt_patterns"] = [p["text"] for p in jwt_patterns]
    found = _plural(len(jwt_patterns), "result")
    out(f"  search 'JWT validation errors' tags [jwt, error]: {found}")
    for pattern in jwt_patterns:
        out(f"    Found: {pattern['text']}")
    await bob.create_deep_memory(
        text="JWT intermittent validation failures caused by clock skew. Solution: Add 60s "
        "leeway in token validation",
        tags=["bug-fix", "jwt", "clock-skew"],
        metadata={"category": "bug-resolution", "severity": "high"},
    )
    out("  stored the resolution (clock skew, 60 s leeway) in deep memory")

    # ------------------------------------------------------------------ scenario 3
    out("")
    out("Scenario 3: code review with historical context (reviewer-charlie)")
    charlie = MemoryWorkflowPrimitive(
        redis_url=redis_url, user_id="reviewer-charlie", workspace=workspace
    )
    charlie_groups = SessionGroupPrimitive(
        redis_url=redis_url, user_id="reviewer-charlie", workspace=workspace
    )
    feature_groups = await charlie_groups.list_groups(tags=["auth"])
    out(f"  groups tagged 'auth': {len(feature_groups)}")
    constraints: list[str] = []
    patterns_found: list[str] = []
    for group in feature_groups:
        group_summary = await charlie_groups.get_group_summary(group["id"])
        grouped_context = await charlie_groups.get_grouped_context(
            group_id=group["id"], max_messages_per_session=20
        )
        messages = sum(len(msgs) for msgs in grouped_context.values())
        out(f"  Reviewing: {group_summary['name']} ({group_summary['status']})")
        out(f"    Sessions: {len(grouped_context)} ({messages} messages)")
        pafs = await charlie.get_active_pafs(category="AUTH")
        for p in pafs:
            constraints.append(p.description)
            out(f"    Constraint: {p.description}")
        patterns = await charlie.search_deep_memory(
            query="authentication patterns", tags=["auth", "pattern"], limit=10
        )
        for pattern in patterns:
            patterns_found.append(pattern["text"])
            text = pattern["text"]
            out(f"    Pattern: {text[:100]}{'...' if len(text) > 100 else ''}")
    result.found["constraints"] = constraints
    result.found["review_patterns"] = patterns_found

    result.seconds = time.perf_counter() - started
    out("")
    out(f"total: {_secs(result.seconds)} ({len(result.loads)} context loads)")
    if remove:
        await delete_workspace(memory)
        out(f"removed workspace {workspace!r}")
    return result


# --------------------------------------------------------------------------- formatting


def _secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


def _plural(n: int, noun: str) -> str:
    if n == 1:
        return f"1 {noun}"
    return f"{n} {noun[:-1] + 'ies' if noun.endswith('y') else noun + 's'}"
