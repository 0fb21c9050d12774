"""Memory hygiene on a labelled set: paraphrases caught, updates linked, false merges.

``benchmarks/data/hygiene_pairs.jsonl`` holds 84 pairs we wrote (engineering and personal facts):
30 paraphrases (the same fact in other words), 25 updates (the same fact with a value changed)
and 29 distinct facts that look alike (same template, another subject). For each pair the older
memory is stored, then the newer one, through the engine on a real Redis (one workspace per
pair); the pair counts as linked when the newer memory supersedes the older one.

Run: ``python -m benchmarks.hygiene [--url URL]``
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import harness as h

NAME = "hygiene"
PAIRS = Path(__file__).resolve().parent / "data" / "hygiene_pairs.jsonl"


def load_pairs(path: Path = PAIRS) -> list[dict[str, str]]:
    """The labelled pairs: ``{"kind", "old", "new"}``."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def measure(url: str, settings: Any, pairs: list[dict[str, str]]) -> dict[str, Any]:
    """Store each pair (old, then new) and count what hygiene linked."""
    from tta_memory import MemoryWorkflowPrimitive

    linked: Counter[str] = Counter()
    total: Counter[str] = Counter()
    visible: Counter[str] = Counter()
    mistakes: list[dict[str, str]] = []
    run = uuid.uuid4().hex[:8]
    for i, pair in enumerate(pairs):
        memory = MemoryWorkflowPrimitive(
            url, user_id="hygiene", workspace=f"hyg-{run}-{i}", settings=settings
        )
        old = await memory.create_deep_memory(pair["old"])
        new = await memory.create_deep_memory(pair["new"])
        kind = pair["kind"]
        total[kind] += 1
        is_linked = new.supersedes == old.id
        linked[kind] += is_linked
        found = await memory.search_deep_memory(pair["old"], limit=5)
        visible[kind] += len(found)
        expected = kind != "distinct"
        if is_linked != expected and (kind != "update" or settings.hygiene.link_updates):
            mistakes.append({"kind": kind, "old": pair["old"], "new": pair["new"]})
    return {
        "pairs": dict(total),
        "paraphrases caught": linked["paraphrase"],
        "duplicates stored (paraphrases both visible)": total["paraphrase"] - linked["paraphrase"],
        "updates linked": linked["update"],
        "false merges (distinct linked)": linked["distinct"],
        "visible per pair after hygiene": {k: visible[k] / total[k] for k in total},
        "misses": mistakes,
    }


async def run(args: Any, url: str) -> dict[str, Any]:
    """Measure the default thresholds and the opt-in update linking."""
    from tta_memory import Settings
    from tta_memory.hygiene import HygieneThresholds

    info = h.machine_info()
    h.print_header("Memory hygiene (labelled pairs)", info, url)
    pairs = load_pairs()
    results = {}
    for label, thresholds in (
        ("default (restates only)", HygieneThresholds()),
        ("link_updates=True", HygieneThresholds(link_updates=True)),
    ):
        settings = Settings(prefix=f"bench-hyg-{uuid.uuid4().hex[:6]}", hygiene=thresholds)
        results[label] = await measure(url, settings, pairs)
    rows = []
    for label, r in results.items():
        n = r["pairs"]
        rows.append(
            [
                label,
                f"{r['paraphrases caught']}/{n['paraphrase']}",
                r["duplicates stored (paraphrases both visible)"],
                f"{r['updates linked']}/{n['update']}",
                f"{r['false merges (distinct linked)']}/{n['distinct']}",
            ]
        )
    table = h.format_table(
        ["thresholds", "paraphrases caught", "duplicates stored", "updates linked", "false merges"],
        rows,
    )
    print(table)
    for label, r in results.items():
        for miss in r["misses"]:
            print(f"  {label}: {miss['kind']}: {miss['old']!r} -> {miss['new']!r}")
    payload = {"benchmark": NAME, "machine": info, "results": results, "table": table}
    payload["json"] = str(h.write_json(args.out, NAME, payload))
    return payload


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry point."""
    return h.cli(__doc__, NAME, run, argv)


if __name__ == "__main__":
    main()
