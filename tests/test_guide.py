"""The usage guide's code, run as written.

Only two things differ from the guide: ``redis_url`` is the test server's URL instead of the
guide's ``http://localhost:8000`` memory server, and every test runs in a fresh workspace
(``TTA_MEMORY_WORKSPACE``, so the guide's constructor calls stay unchanged). After each snippet
come the checks a reader of the guide would make.
"""

# The guide's code keeps its long string literals verbatim.
# ruff: noqa: E501

from __future__ import annotations

from datetime import datetime

import pytest
from tta_memory.errors import GroupClosedError

from tta_dev_primitives import (
    GroupStatus,
    MemoryWorkflowPrimitive,
    SessionGroupPrimitive,
    WorkflowContext,
    WorkflowMode,
)


@pytest.fixture(autouse=True)
def fresh_workspace(monkeypatch, workspace):
    monkeypatch.setenv("TTA_MEMORY_WORKSPACE", workspace)
    return workspace


# --- Testing Workflows: Manual Testing ------------------------------------------------------


@pytest.mark.asyncio
async def test_session_context_loading(redis_url):
    """Test session context loads correctly."""
    memory = MemoryWorkflowPrimitive(redis_url=redis_url, user_id="test-user")

    session_id = "test-session-001"

    # Add test messages
    await memory.add_session_message(session_id=session_id, role="user", content="Test message 1")

    await memory.add_session_message(
        session_id=session_id, role="assistant", content="Test response 1"
    )

    # Load context
    ctx = WorkflowContext(workflow_id="test-workflow", session_id=session_id, metadata={}, state={})

    enriched = await memory.load_workflow_context(
        context=ctx, stage="understand", mode=WorkflowMode.STANDARD
    )

    # Verify
    session_messages = enriched.metadata.get("session_context", [])
    assert len(session_messages) == 2
    assert session_messages[0]["content"] == "Test message 1"


@pytest.mark.asyncio
async def test_deep_memory_search(redis_url):
    """Test deep memory search functionality."""
    memory = MemoryWorkflowPrimitive(redis_url=redis_url, user_id="test-user")

    # Create test memory
    await memory.create_deep_memory(
        text="Test pattern: Use factory pattern for object creation",
        tags=["pattern", "design", "factory"],
        metadata={"category": "design-pattern"},
    )

    # Search
    results = await memory.search_deep_memory(query="factory pattern", tags=["pattern"], limit=5)

    # Verify
    assert len(results) > 0
    assert "factory pattern" in results[0]["text"].lower()


# --- Testing Workflows: Integration Testing -------------------------------------------------


@pytest.mark.asyncio
async def test_workflow_mode_differences(redis_url):
    """Test different workflow modes load different amounts of context."""
    memory = MemoryWorkflowPrimitive(redis_url=redis_url, user_id="test-user")
    # Not in the guide: its assertions only hold when the workspace has more deep memories than
    # the modes' k, so seed 21 (> AUGSTER's 20): RAPID 0 < STANDARD 10 < AUGSTER 20.
    await memory.create_deep_memories(
        [{"text": f"team knowledge item {i}: module {i} owns table {i * 11}"} for i in range(21)]
    )

    ctx = WorkflowContext(workflow_id="test", session_id="test-session", metadata={}, state={})

    # Rapid mode
    rapid = await memory.load_workflow_context(ctx, "understand", WorkflowMode.RAPID)

    # Standard mode
    standard = await memory.load_workflow_context(ctx, "understand", WorkflowMode.STANDARD)

    # Augster-Rigorous mode
    rigorous = await memory.load_workflow_context(ctx, "understand", WorkflowMode.AUGSTER_RIGOROUS)

    # Verify loading differences
    assert len(rapid.metadata.get("deep_memory", [])) < len(
        standard.metadata.get("deep_memory", [])
    )
    assert len(standard.metadata.get("deep_memory", [])) < len(
        rigorous.metadata.get("deep_memory", [])
    )


# --- Quick Start ----------------------------------------------------------------------------


async def test_quick_start(redis_url, capsys):
    # Initialize memory system
    memory = MemoryWorkflowPrimitive(redis_url=redis_url, user_id="developer-123")

    # Create a workflow context
    ctx = WorkflowContext(
        workflow_id="feature-auth-2025-10-28",
        session_id="auth-session-001",
        metadata={"feature": "authentication"},
        state={},
    )

    # Add session message (Layer 1)
    await memory.add_session_message(
        session_id=ctx.session_id,
        role="user",
        content="Implement JWT authentication with refresh tokens",
    )

    # Load context for current stage
    enriched_ctx = await memory.load_workflow_context(
        context=ctx,
        stage="plan",  # understand, decompose, plan, implement, verify, review
        mode=WorkflowMode.STANDARD,
    )

    print(f"Loaded {len(enriched_ctx.metadata.get('memories', []))} memories")

    assert capsys.readouterr().out == "Loaded 1 memories\n"
    [item] = enriched_ctx.metadata["memories"]
    assert item.layer == "session"
    assert item.text == "Implement JWT authentication with refresh tokens"


# --- Scenario 1: Feature Development (Multi-Day Session) -------------------------------------


async def scenario_1(redis_url: str) -> dict:
    """Days 1-3 of Scenario 1, as written; returns what the checks need."""
    # Day 1: Research & Planning
    # Initialize systems
    memory = MemoryWorkflowPrimitive(redis_url=redis_url, user_id="dev-alice")
    groups = SessionGroupPrimitive(redis_url=redis_url, user_id="dev-alice")

    # Create session group for feature
    group_id = await groups.create_group(
        name="Authentication Feature",
        description="JWT authentication with refresh tokens",
        tags=["auth", "security", "jwt"],
        status=GroupStatus.ACTIVE,
    )

    # Create today's session
    session_id = f"auth-research-{datetime.now().strftime('%Y%m%d')}"
    await groups.add_session_to_group(group_id, session_id)

    # Research phase: Add session context
    await memory.add_session_message(
        session_id=session_id,
        role="user",
        content="Research JWT libraries for Python: PyJWT vs python-jose",
    )

    # Store research findings in Deep Memory (Layer 3)
    await memory.create_deep_memory(
        text="PyJWT is more lightweight (good for our use case). python-jose has more features but higher complexity.",
        tags=["research", "jwt", "libraries"],
        metadata={"category": "technical-decision", "session_id": session_id},
    )

    # Create PAF for architectural decision (Layer 4)
    await memory.paf_primitive.add_paf(
        category="AUTH",
        fact_id="001",
        description="Use PyJWT for token generation and validation",
        rationale="Lightweight, well-maintained, sufficient for our needs",
    )

    # Day 2: Implementation
    # New session, same group
    session_id_day2 = f"auth-impl-{datetime.now().strftime('%Y%m%d')}"
    await groups.add_session_to_group(group_id, session_id_day2)

    # Load context from grouped sessions
    ctx = WorkflowContext(
        workflow_id=group_id, session_id=session_id_day2, metadata={"group_id": group_id}, state={}
    )

    # Load ALL context from session group (Augster-Rigorous mode)
    enriched_ctx = await memory.load_workflow_context(
        context=ctx, stage="implement", mode=WorkflowMode.AUGSTER_RIGOROUS
    )

    print(f"Context loaded:")  # noqa: F541 (as in the guide)
    print(f"  - Session messages: {len(enriched_ctx.metadata.get('session_context', []))}")
    print(f"  - Cache entries: {len(enriched_ctx.metadata.get('cache_memory', []))}")
    print(f"  - Deep memories: {len(enriched_ctx.metadata.get('deep_memory', []))}")
    print(f"  - Active PAFs: {len(enriched_ctx.metadata.get('pafs', []))}")

    # Implementation work...
    await memory.add_session_message(
        session_id=session_id_day2,
        role="assistant",
        content="Implemented JWT generation with PyJWT, added refresh token rotation",
    )

    # Store successful pattern
    await memory.create_deep_memory(
        text="Refresh token rotation pattern: Generate new refresh token on each use, invalidate old one",
        tags=["pattern", "jwt", "refresh-tokens"],
        metadata={"category": "successful-pattern", "session_id": session_id_day2},
    )

    # Day 3: Testing & Wrap-up
    session_id_day3 = f"auth-test-{datetime.now().strftime('%Y%m%d')}"
    await groups.add_session_to_group(group_id, session_id_day3)

    # Testing complete - close the group
    await groups.update_group_status(group_id, GroupStatus.CLOSED)

    # Get summary of what was accomplished
    summary = await groups.get_group_summary(group_id)
    print(f"Feature '{summary['name']}' completed!")
    print(f"  Sessions: {len(summary['session_ids'])}")
    print(f"  Duration: {summary['created_at']} â†’ {summary['updated_at']}")

    return {
        "memory": memory,
        "groups": groups,
        "group_id": group_id,
        "day2": enriched_ctx,
        "sessions": [session_id, session_id_day2, session_id_day3],
        "summary": summary,
    }


async def test_scenario_1_feature_development(redis_url, capsys):
    out = await scenario_1(redis_url)
    printed = capsys.readouterr().out

    day2 = out["day2"].metadata
    # Day 2 sees Day 1: the group's cache, the tagged research memory and the PAF.
    assert [e.content for e in day2["cache_memory"]] == [
        "Research JWT libraries for Python: PyJWT vs python-jose"
    ]
    assert day2["deep_memory"][0].text.startswith("PyJWT is more lightweight")
    assert [p.id for p in day2["pafs"]] == ["AUTH-001"]
    assert [g.id for g in day2["session_groups"]] == [out["group_id"]]
    assert (
        "Context loaded:\n  - Session messages: 0\n  - Cache entries: 1\n"
        "  - Deep memories: 1\n  - Active PAFs: 1\n"
    ) in printed
    # Day 3: the closed group holds all three days.
    summary = out["summary"]
    assert summary["status"] == GroupStatus.CLOSED and summary["closed_at"] is not None
    assert summary["session_ids"] == out["sessions"]
    assert "Feature 'Authentication Feature' completed!\n  Sessions: 3\n" in printed
    with pytest.raises(GroupClosedError, match="closed"):
        await out["groups"].add_session_to_group(out["group_id"], "auth-day-4")


# --- Scenario 2: Bug Investigation ----------------------------------------------------------


async def test_scenario_2_bug_investigation(redis_url, capsys):
    memory = MemoryWorkflowPrimitive(redis_url=redis_url, user_id="dev-bob")
    # Earlier knowledge the search is meant to find.
    await memory.create_deep_memory(
        text="JWT validation errors after deploys came from a stale signing key cache",
        tags=["jwt", "error"],
    )

    # Rapid mode for quick debugging
    session_id = "bug-investigation-prod-error"

    # Add bug context
    await memory.add_session_message(
        session_id=session_id,
        role="user",
        content="Production error: JWT token validation failing intermittently",
    )

    ctx = WorkflowContext(
        workflow_id="bug-jwt-validation", session_id=session_id, metadata={}, state={}
    )

    # Rapid mode: minimal context loading for speed
    enriched_ctx = await memory.load_workflow_context(
        context=ctx,
        stage="understand",
        mode=WorkflowMode.RAPID,  # Fast, minimal validation
    )

    # Search for related issues in cache (last 24h)
    recent_issues = await memory.get_cache_memory(
        session_id=None,  # All sessions
        time_window_hours=24,
    )

    # Search deep memory for JWT patterns
    jwt_patterns = await memory.search_deep_memory(
        query="JWT validation errors", limit=5, tags=["jwt", "error"]
    )

    for pattern in jwt_patterns:
        print(f"Found: {pattern['text']}")

    # Found the issue - store solution
    await memory.create_deep_memory(
        text="JWT intermittent validation failures caused by clock skew. Solution: Add 60s leeway in token validation",
        tags=["bug-fix", "jwt", "clock-skew"],
        metadata={"category": "bug-resolution", "severity": "high"},
    )

    assert [m.content for m in enriched_ctx.metadata["session_context"]] == [
        "Production error: JWT token validation failing intermittently"
    ]
    assert enriched_ctx.metadata["deep_memory"] == []
    assert [e.content for e in recent_issues] == [
        "Production error: JWT token validation failing intermittently"
    ]
    assert capsys.readouterr().out == (
        "Found: JWT validation errors after deploys came from a stale signing key cache\n"
    )
    [fix] = await memory.search_deep_memory("clock skew leeway", tags=["bug-fix"])
    assert fix.memory_type == "bug-resolution" and fix.metadata["severity"] == "high"


# --- Scenario 3: Code Review with Historical Context ----------------------------------------


async def test_scenario_3_code_review(redis_url, capsys):
    await scenario_1(redis_url)  # dev-alice's feature work, in the same workspace
    capsys.readouterr()

    memory = MemoryWorkflowPrimitive(redis_url=redis_url, user_id="reviewer-charlie")
    groups = SessionGroupPrimitive(redis_url=redis_url, user_id="reviewer-charlie")

    # Find all sessions related to this feature
    feature_groups = await groups.list_groups(tags=["auth"])

    for group in feature_groups:
        group_summary = await groups.get_group_summary(group["id"])

        # Get grouped context for review
        grouped_context = await groups.get_grouped_context(
            group_id=group["id"], max_messages_per_session=20
        )

        print(f"Reviewing: {group_summary['name']}")
        print(f"  Sessions: {len(grouped_context)}")

        # Review architectural decisions
        pafs = await memory.get_active_pafs(category="AUTH")
        for paf in pafs:
            print(f"  Constraint: {paf.description}")

        # Check for similar patterns in Deep Memory
        patterns = await memory.search_deep_memory(
            query="authentication patterns", tags=["auth", "pattern"], limit=10
        )

        for pattern in patterns:
            print(f"  Pattern: {pattern['text'][:100]}...")

    assert capsys.readouterr().out == (
        "Reviewing: Authentication Feature\n"
        "  Sessions: 3\n"
        "  Constraint: Use PyJWT for token generation and validation\n"
        "  Pattern: Refresh token rotation pattern: Generate new refresh token on each use, "
        "invalidate old one...\n"
    )
    assert len(feature_groups) == 1


# --- Session Management Patterns ------------------------------------------------------------


async def test_session_management_patterns(redis_url):
    groups = SessionGroupPrimitive(redis_url=redis_url, user_id="dev-alice")

    # Pattern 1: Feature-Based Grouping
    # Group all sessions for a feature
    group_id = await groups.create_group(
        name="Feature: User Profiles",
        description="User profile management with avatars",
        tags=["profile", "user", "avatar"],
        status=GroupStatus.ACTIVE,
    )

    # Add sessions as you work
    daily_sessions = ["profile-design-20251028", "profile-impl-20251029", "profile-test-20251030"]

    for session_id in daily_sessions:
        await groups.add_session_to_group(group_id, session_id)

    # Close when feature complete
    await groups.update_group_status(group_id, GroupStatus.CLOSED)

    # Pattern 2: Sprint-Based Grouping
    # Group by sprint
    sprint_group = await groups.create_group(
        name="Sprint 12",
        description="Q4 2025 Sprint 12",
        tags=["sprint12", "q4-2025"],
        status=GroupStatus.ACTIVE,
    )

    # Add all sprint sessions
    sprint_sessions = ["story-123-auth", "story-124-profiles", "bug-fix-critical"]

    for session in sprint_sessions:
        await groups.add_session_to_group(sprint_group, session)

    # Pattern 3: Investigation-Based Grouping
    # Temporary investigation group
    investigation = await groups.create_group(
        name="Investigation: Performance Bottleneck",
        description="Investigating slow DB queries",
        tags=["investigation", "performance", "database"],
        status=GroupStatus.ACTIVE,
    )

    # Archive when investigation complete
    await groups.update_group_status(investigation, GroupStatus.ARCHIVED)

    profiles = await groups.get_group(group_id)
    assert profiles.status == GroupStatus.CLOSED and profiles.session_ids == daily_sessions
    assert (await groups.get_group(sprint_group)).session_ids == sprint_sessions
    assert (await groups.get_group(investigation)).status == GroupStatus.ARCHIVED
    assert [g.id for g in await groups.list_groups(status=GroupStatus.ACTIVE)] == [sprint_group]
    assert [g.id for g in await groups.list_groups(tags=["q4-2025"])] == [sprint_group]


# --- Context Engineering --------------------------------------------------------------------


async def test_context_engineering(redis_url):
    memory = MemoryWorkflowPrimitive(redis_url=redis_url, user_id="dev-alice")
    session_id = "auth-impl-20251029"
    ctx = WorkflowContext(
        workflow_id="feature-auth",
        session_id=session_id,
        metadata={"feature": "authentication"},
        state={},
    )
    await memory.create_deep_memories(
        [
            {"text": f"auth note {i}: login flow step {i}", "tags": ["auth", "security"]}
            for i in range(22)
        ]
        + [{"text": "Index foreign keys to speed up joins", "tags": ["database", "performance"]}]
    )
    await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT")
    await memory.paf_primitive.add_paf("AUTH", "002", "No sessions in cookies")
    await memory.paf_primitive.deprecate_paf("AUTH-002", "superseded")
    await memory.add_session_message(session_id, "user", "Add login rate limiting")
    await memory.add_cache_entry("CI was red this morning", ttl_seconds=3600)

    # Technique 1: Stage-Aware Loading
    # UNDERSTAND stage: Load comprehensive context
    ctx_understand = await memory.load_workflow_context(
        context=ctx,
        stage="understand",  # Loads: Session + Cache (24h) + Deep (top 20) + All PAFs
        mode=WorkflowMode.AUGSTER_RIGOROUS,
    )

    # IMPLEMENT stage: Focus on recent + constraints
    ctx_implement = await memory.load_workflow_context(
        context=ctx,
        stage="implement",  # Loads: Session + Cache (1h) + Deep (top 5) + Active PAFs
        mode=WorkflowMode.STANDARD,
    )

    # VERIFY stage: Minimal, just current context
    ctx_verify = await memory.load_workflow_context(
        context=ctx,
        stage="verify",  # Loads: Session only
        mode=WorkflowMode.RAPID,
    )

    # Technique 2: Tag-Based Filtering
    # Query specific knowledge domains
    auth_memories = await memory.search_deep_memory(
        query="authentication security", tags=["auth", "security"], limit=10
    )

    db_patterns = await memory.search_deep_memory(
        query="database optimization", tags=["database", "performance"], limit=5
    )

    # Technique 3: Temporal Context Windows
    # Last hour (hot cache)
    recent = await memory.get_cache_memory(session_id=session_id, time_window_hours=1)

    # Last 24 hours (warm cache)
    daily = await memory.get_cache_memory(session_id=session_id, time_window_hours=24)

    # All time (deep memory)
    all_memories = await memory.search_deep_memory(
        query="",  # Empty = all
        limit=100,
    )

    understand = ctx_understand.metadata
    assert len(understand["session_context"]) == 1
    assert [e.content for e in understand["cache_memory"]] == ["CI was red this morning"]
    assert len(understand["deep_memory"]) == 20 and [p.id for p in understand["pafs"]] == [
        "AUTH-001"
    ]
    implement = ctx_implement.metadata
    assert len(implement["deep_memory"]) == 5 and [p.id for p in implement["pafs"]] == ["AUTH-001"]
    assert [e.content for e in implement["cache_memory"]] == ["CI was red this morning"]
    verify = ctx_verify.metadata
    assert len(verify["session_context"]) == 1
    assert verify["cache_memory"] == verify["deep_memory"] == verify["pafs"] == []
    assert len(auth_memories) == 10 and all("auth" in m.tags for m in auth_memories)
    assert [m.text for m in db_patterns] == ["Index foreign keys to speed up joins"]
    assert [e.content for e in recent] == [e.content for e in daily] == ["Add login rate limiting"]
    assert len(all_memories) == 23


# --- Troubleshooting ------------------------------------------------------------------------


async def test_troubleshooting_snippets(redis_url, capsys):
    memory = MemoryWorkflowPrimitive(redis_url=redis_url, user_id="dev-alice")
    session_id = "auth-session-001"
    ctx = WorkflowContext(workflow_id="feature-auth", session_id=session_id, metadata={}, state={})
    await memory.create_deep_memories([{"text": f"authentication detail {i}"} for i in range(7)])
    await memory.add_session_messages(
        session_id,
        [
            {"role": "user", "content": "Why is login slow?"},
            {"role": "assistant", "content": "Looking at the token checks."},
        ],
    )
    await memory.paf_primitive.add_paf("AUTH", "001", "Use PyJWT")

    # Issue: No Memories Returned
    # Check if memories exist
    all_memories = await memory.search_deep_memory(query="", limit=100)
    print(f"Total memories: {len(all_memories)}")

    # Verify session messages
    session_ctx = await memory.get_session_context(session_id)
    print(f"Session messages: {len(session_ctx)}")

    # Check PAFs loaded
    pafs = await memory.get_active_pafs()
    print(f"Active PAFs: {len(pafs)}")

    # Issue: Context Loading Too Slow
    # Use faster mode
    enriched = await memory.load_workflow_context(
        context=ctx,
        stage="implement",
        mode=WorkflowMode.RAPID,  # Faster, less context
    )

    # Reduce cache window
    cache = await memory.get_cache_memory(
        session_id=session_id,
        time_window_hours=1,  # Reduce from 24 to 1
    )

    # Limit deep memory search
    deep = await memory.search_deep_memory(
        query="authentication",
        limit=5,  # Reduce from 20 to 5
    )

    assert capsys.readouterr().out == "Total memories: 7\nSession messages: 2\nActive PAFs: 1\n"
    assert len(enriched.metadata["session_context"]) == 2
    assert enriched.metadata["deep_memory"] == []
    assert [e.content for e in cache] == ["Looking at the token checks.", "Why is login slow?"]
    assert len(deep) == 5


def test_guide_http_url_gets_a_clear_error():
    """The guide's own URL points at an HTTP memory server; the engine explains what it needs."""
    from tta_memory.errors import UnsupportedURLError

    with pytest.raises(UnsupportedURLError, match="Redis URL"):
        MemoryWorkflowPrimitive(redis_url="http://localhost:8000", user_id="developer-123")
