"""LoCoMo loading, evidence cleaning and recall scoring (protocol: ../shared/data/README.md).

The data set is CC BY-NC 4.0: it is read from the shared folder at run time and never copied
into the repository.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: Default location, relative to the repository root (the repo lives beside ../shared/).
DEFAULT_DATA = Path("..") / "shared" / "data" / "locomo10.json"

CATEGORIES: dict[int, str] = {
    1: "multi-hop",
    2: "temporal",
    3: "open-domain",
    4: "single-hop",
    5: "adversarial",
}
KS: tuple[int, ...] = (5, 10, 25)

_SESSION_KEY = re.compile(r"^session_(\d+)$")
_DIA_ID = re.compile(r"^D:?(\d+):0*(\d+)$")


@dataclass(frozen=True)
class Turn:
    """One dialogue turn, the unit of retrieval (one memory)."""

    dia_id: str
    speaker: str
    text: str
    session: int
    event_time: datetime | None


@dataclass(frozen=True)
class Question:
    """One question with its cleaned evidence ids."""

    question: str
    category: int
    evidence: frozenset[str]


@dataclass
class Conversation:
    """One LoCoMo sample: its turns and its answerable questions."""

    sample_id: str
    turns: list[Turn] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    dropped_questions: int = 0


def resolve_data_path(data: str | Path | None, repo_root: Path) -> Path:
    """Resolve the ``--data`` option.

    Args:
        data: The path given on the command line, or None for the default.
        repo_root: The repository root; relative paths are resolved against it first, then
            against the current directory.

    Returns:
        The path of ``locomo10.json``.

    Raises:
        FileNotFoundError: If no such file exists.
    """
    candidate = Path(data) if data else DEFAULT_DATA
    options = [candidate] if candidate.is_absolute() else [repo_root / candidate, candidate]
    for option in options:
        if option.is_file():
            return option.resolve()
    raise FileNotFoundError(
        f"LoCoMo data not found at {candidate} (tried {[str(o) for o in options]}); "
        "pass --data PATH to locomo10.json"
    )


def parse_session_time(value: str | None) -> datetime | None:
    """Parse LoCoMo's session stamp ("1:56 pm on 8 May, 2023") as a UTC datetime.

    Args:
        value: The ``session_N_date_time`` string.

    Returns:
        The aware datetime, or None when absent or unparseable.
    """
    if not value:
        return None
    for fmt in ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def turn_text(turn: dict[str, Any]) -> str:
    """The memory text of a turn, as the protocol defines it.

    Args:
        turn: A raw LoCoMo turn.

    Returns:
        ``{speaker} said, "{text}"`` plus `` and shared {blip_caption}`` when present.
    """
    text = f'{turn["speaker"]} said, "{turn["text"]}"'
    caption = turn.get("blip_caption")
    if caption:
        text += f" and shared {caption}"
    return text


def clean_evidence(raw: list[str], known: set[str]) -> frozenset[str]:
    """Clean one evidence list (protocol step 2).

    Entries are split on ``;`` and whitespace, ``D:11:26`` is read as ``D11:26`` and
    ``D30:05`` as ``D30:5``; ids absent from the conversation are dropped.

    Args:
        raw: The question's ``evidence`` list.
        known: The conversation's dia ids.

    Returns:
        The cleaned set of dia ids.
    """
    out: set[str] = set()
    for entry in raw:
        for token in re.split(r"[;\s]+", str(entry)):
            match = _DIA_ID.match(token.strip())
            if not match:
                continue
            dia_id = f"D{int(match.group(1))}:{int(match.group(2))}"
            if dia_id in known:
                out.add(dia_id)
    return frozenset(out)


def load_locomo(path: Path, *, limit_conversations: int | None = None) -> list[Conversation]:
    """Load LoCoMo as conversations of turns and cleaned questions.

    Args:
        path: ``locomo10.json``.
        limit_conversations: Keep only the first n conversations (smoke runs).

    Returns:
        The conversations, in file order.
    """
    samples = json.loads(path.read_text(encoding="utf-8"))
    conversations: list[Conversation] = []
    for sample in samples[:limit_conversations]:
        conv = Conversation(sample_id=str(sample["sample_id"]))
        raw_conv = sample["conversation"]
        # Iterate over session_N keys (not the _date_time ones: some have no turns).
        sessions = sorted(
            (int(m.group(1)), key)
            for key in raw_conv
            if (m := _SESSION_KEY.match(key)) and isinstance(raw_conv[key], list)
        )
        for number, key in sessions:
            when = parse_session_time(raw_conv.get(f"{key}_date_time"))
            for turn in raw_conv[key]:
                conv.turns.append(
                    Turn(
                        dia_id=turn["dia_id"],
                        speaker=turn["speaker"],
                        text=turn_text(turn),
                        session=number,
                        event_time=when,
                    )
                )
        known = {t.dia_id for t in conv.turns}
        for qa in sample["qa"]:
            evidence = clean_evidence(qa.get("evidence", []), known)
            if not evidence:
                conv.dropped_questions += 1
                continue
            conv.questions.append(
                Question(
                    question=str(qa["question"]), category=int(qa["category"]), evidence=evidence
                )
            )
        conversations.append(conv)
    return conversations


def recall_at_k(retrieved: list[str], evidence: frozenset[str], k: int) -> float:
    """|evidence ∩ top-k| / |evidence| for one question.

    Args:
        retrieved: Retrieved dia ids, best first.
        evidence: The question's cleaned evidence ids (non-empty).
        k: The cut-off.

    Returns:
        The recall in [0, 1].
    """
    return len(evidence.intersection(retrieved[:k])) / len(evidence)


class RecallAccumulator:
    """Averages recall@k per category and overall (the paper's metric)."""

    def __init__(self, ks: tuple[int, ...] = KS) -> None:
        self.ks = ks
        self._sums: dict[str, dict[int, float]] = defaultdict(lambda: dict.fromkeys(ks, 0.0))
        self._counts: dict[str, int] = defaultdict(int)

    def add(self, category: int, retrieved: list[str], evidence: frozenset[str]) -> None:
        """Score one question.

        Args:
            category: The LoCoMo category code (1-5).
            retrieved: Retrieved dia ids, best first (at least max(ks) when available).
            evidence: Cleaned evidence ids.
        """
        for bucket in (CATEGORIES.get(category, str(category)), "overall"):
            self._counts[bucket] += 1
            for k in self.ks:
                self._sums[bucket][k] += recall_at_k(retrieved, evidence, k)

    def result(self) -> dict[str, dict[str, float]]:
        """Recall in percent per bucket.

        Returns:
            ``{bucket: {"n": count, "R@5": pct, ...}}``, categories in code order then overall.
        """
        order = [*CATEGORIES.values(), "overall"]
        out: dict[str, dict[str, float]] = {}
        for bucket in order:
            n = self._counts.get(bucket, 0)
            if not n:
                continue
            row: dict[str, float] = {"n": n}
            for k in self.ks:
                row[f"R@{k}"] = 100.0 * self._sums[bucket][k] / n
            out[bucket] = row
        return out
