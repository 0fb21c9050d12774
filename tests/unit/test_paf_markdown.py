"""PAF markdown: parsing every list form, reporting what does not parse, a full-form export that
round-trips, and the created / updated / unchanged plan of an import (pure: no Redis)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tta_memory.models import PAF, PAFStatus
from tta_memory.paf_markdown import parse_markdown, plan_import, render_markdown

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def paf(paf_id: str, description: str, **fields: object) -> PAF:
    category, fact_id = paf_id.split("-")
    return PAF(
        id=paf_id,
        category=category,
        fact_id=fact_id,
        description=description,
        author="dev",
        created_at=NOW,
        updated_at=NOW,
        **fields,  # type: ignore[arg-type]
    )


def test_every_list_form_is_read() -> None:
    text = (
        "# Architecture\n"
        "\n"
        "- **AUTH-001**: Use PyJWT\n"
        "* **DB-002**: Postgres only\n"
        "+ **API-003**: RFC 9457 errors\n"
        "1. **API-004**: Version the API in the path\n"
        "12) **OPS-005**:   Trailing and leading spaces trimmed   \n"
        "   - **UI-006**: indented items count too\n"
    )
    parsed = parse_markdown(text)
    assert parsed.problems == []
    assert [(e.id, e.description, e.line) for e in parsed.entries] == [
        ("AUTH-001", "Use PyJWT", 3),
        ("DB-002", "Postgres only", 4),
        ("API-003", "RFC 9457 errors", 5),
        ("API-004", "Version the API in the path", 6),
        ("OPS-005", "Trailing and leading spaces trimmed", 7),
        ("UI-006", "indented items count too", 8),
    ]
    # The simple form says nothing about the other fields: an import keeps what is stored.
    assert all(e.rationale is None and e.status is None for e in parsed.entries)


def test_lines_that_look_like_pafs_but_do_not_parse_are_reported_with_line_numbers() -> None:
    text = (
        "Intro prose with **bold** is not a PAF.\n"
        "- **auth-1**: lower-case id\n"
        "- **AUTH-002** missing colon\n"
        "- AUTH-003: id not in bold\n"
        "- **AUTH-004**:\n"
        "- **AUTH-005**: fine\n"
        "- **AUTH-005**: the same id again\n"
        "- a normal list item is not a PAF\n"
    )
    parsed = parse_markdown(text)
    assert [e.id for e in parsed.entries] == ["AUTH-005"]
    reasons = {p.line: p.reason for p in parsed.problems}
    assert sorted(reasons) == [2, 3, 4, 5, 7]
    assert "malformed PAF id 'auth-1'" in reasons[2]
    assert "':'" in reasons[3]
    assert "in bold" in reasons[4]
    assert reasons[5] == "empty description"
    assert "already appears on line 6" in reasons[7]
    assert str(parsed.problems[0]).startswith("line 2: ")


def test_sub_items_fill_the_full_form_and_bad_ones_are_reported() -> None:
    text = (
        "- **AUTH-001**: Use PyJWT\n"
        '  - rationale: "Small.\\nReviewed in 2024."\n'
        "  - status: replaced\n"
        "  - replaced_by: AUTH-002\n"
        "  - reason: moved to authlib\n"
        "- **AUTH-002**: Use authlib\n"
        "  - status: retired\n"
        "  - owner: alice\n"
        "  - replaced_by: nobody\n"
        '  - rationale: "unterminated\n'
    )
    parsed = parse_markdown(text)
    first, second = parsed.entries
    assert first.rationale == "Small.\nReviewed in 2024."
    assert first.status == PAFStatus.REPLACED
    assert (first.replaced_by, first.deprecation_reason) == ("AUTH-002", "moved to authlib")
    assert second.status is None and second.replaced_by is None
    assert [p.line for p in parsed.problems] == [7, 8, 9, 10]
    assert "unknown status 'retired'" in parsed.problems[0].reason
    assert "unknown sub-item" in parsed.problems[1].reason
    assert "not a PAF id" in parsed.problems[2].reason
    assert "JSON string" in parsed.problems[3].reason


@pytest.mark.parametrize(
    "stored",
    [
        paf("AUTH-001", "Use PyJWT"),
        paf("AUTH-002", "Tokens: `aud` & iss @{x} | -y", rationale="one line"),
        paf("AUTH-003", "Multi", rationale="line one\n\n  line three  "),
        paf("AUTH-004", "Quoted", rationale='"starts with a quote'),
        paf("AUTH-005", "Old", status=PAFStatus.DEPRECATED, deprecation_reason="obsolete"),
        paf(
            "AUTH-006",
            "Older",
            status=PAFStatus.REPLACED,
            replaced_by="AUTH-001",
            deprecation_reason="see AUTH-001",
        ),
        paf("AUTH-007", "Maybe — ünïcödé 🚀", status=PAFStatus.PROPOSED),
    ],
    ids=lambda p: p.id,
)
def test_full_export_round_trips_rationale_status_and_replacement(stored: PAF) -> None:
    text = render_markdown([stored])
    parsed = parse_markdown(text)
    assert parsed.problems == []
    [entry] = parsed.entries
    assert entry.description == stored.description
    assert (entry.rationale or "") == stored.rationale
    assert (entry.status or PAFStatus.ACTIVE) == stored.status
    assert entry.replaced_by == stored.replaced_by
    assert entry.deprecation_reason == stored.deprecation_reason
    # Importing the export back into the same workspace changes nothing.
    plan = plan_import(parsed.entries, {stored.id: stored})
    assert plan.unchanged == [stored.id] and not plan.created and not plan.updated


def test_simple_export_is_one_line_per_paf() -> None:
    pafs = [paf("A-001", "one", rationale="why"), paf("B-002", "two", status=PAFStatus.PROPOSED)]
    assert render_markdown(pafs, full=False) == "- **A-001**: one\n- **B-002**: two\n"
    assert render_markdown([]) == ""


def test_plan_counts_created_updated_and_unchanged() -> None:
    existing = {
        "AUTH-001": paf("AUTH-001", "Use PyJWT", rationale="small"),
        "AUTH-002": paf("AUTH-002", "Rotate refresh tokens"),
        "AUTH-003": paf("AUTH-003", "Hash with argon2id"),
    }
    text = (
        "- **AUTH-001**: Use PyJWT\n"  # unchanged: the rationale is not in the file
        "- **AUTH-002**: Rotate refresh tokens on every use\n"  # description changed
        "- **AUTH-003**: Hash with argon2id\n"
        "  - status: deprecated\n"  # status changed
        "- **AUTH-004**: New fact\n"
        "  - rationale: because\n"
    )
    plan = plan_import(parse_markdown(text).entries, existing)
    assert plan.unchanged == ["AUTH-001"]
    assert [(c.id, c.fields) for c in plan.updated] == [
        ("AUTH-002", {"description": "Rotate refresh tokens on every use"}),
        ("AUTH-003", {"status": "deprecated"}),
    ]
    assert [(c.id, c.fields) for c in plan.created] == [
        ("AUTH-004", {"description": "New fact", "rationale": "because"})
    ]
