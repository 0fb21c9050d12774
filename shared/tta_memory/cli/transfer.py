"""``tta-memory export`` and ``tta-memory import``: a whole workspace as JSON lines."""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO, TYPE_CHECKING, Any

from tta_memory import progress
from tta_memory.cli import common
from tta_memory.cli.errors import EXIT_INPUT, EXIT_OK, CliError

if TYPE_CHECKING:
    from tta_memory import MemoryWorkflowPrimitive

# Records written per engine call on import: small enough for a smooth progress bar, large
# enough that the deep memories of a chunk are embedded as one batch.
IMPORT_CHUNK = 256


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``export`` and ``import`` commands."""
    p = sub.add_parser(
        "export",
        help="export a workspace as JSON lines",
        description="Write every record of a workspace as one JSON object per line.",
    )
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    common.add_scope_args(p)
    p.set_defaults(func=export_cmd)
    p = sub.add_parser(
        "import",
        help="import a workspace from JSON lines (as written by export)",
        description="Load records written by `tta-memory export` into a workspace. Every "
        "record is checked before anything is written.",
    )
    p.add_argument("file", help="JSONL file ('-' for stdin)")
    common.add_scope_args(p)
    p.set_defaults(func=import_cmd)


async def _export(memory: MemoryWorkflowPrimitive, out: IO[str]) -> int:
    from tta_memory.transfer import export_workspace

    count = 0
    with progress.bar(f"exporting {memory.workspace}") as advance:
        async for record in export_workspace(memory):
            out.write(json.dumps(record, ensure_ascii=False, default=common.json_default) + "\n")
            count += 1
            advance()
    return count


def export_cmd(args: argparse.Namespace) -> int:
    """``tta-memory export``: one JSON object per line."""
    memory = common.memory(args)
    with common.open_out(args.output) as out:
        count = common.run(_export(memory, out))
    print(f"exported {count} record(s) from workspace {memory.workspace!r}", file=sys.stderr)
    return EXIT_OK


def parse_records(text: str, source: str) -> list[dict[str, Any]]:
    """The records of a JSONL text, each checked against its type's model.

    Raises:
        CliError: ``source:line: reason`` for the first bad line (exit code 3).
    """
    from pydantic import ValidationError

    models = _models()
    records = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CliError(f"{source}:{lineno}: not a JSON line ({exc.msg})", EXIT_INPUT) from exc
        if not isinstance(record, dict):
            raise CliError(f"{source}:{lineno}: expected a JSON object per line", EXIT_INPUT)
        kind = record.get("type")
        if kind not in models:
            raise CliError(
                f"{source}:{lineno}: unknown record type {kind!r} (valid: {', '.join(models)})",
                EXIT_INPUT,
            )
        body = {k: v for k, v in record.items() if k not in ("type", "archived", "workspace")}
        try:
            models[kind].model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or kind
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            raise CliError(
                f"{source}:{lineno}: {kind}.{field}: {first['msg']}{more}", EXIT_INPUT
            ) from exc
        records.append(record)
    return records


def _models() -> dict[str, Any]:
    from tta_memory.models import PAF, DeepMemory, SessionGroup, SessionMessage

    return {
        "session_message": SessionMessage,
        "deep_memory": DeepMemory,
        "paf": PAF,
        "group": SessionGroup,
    }


async def _import(memory: MemoryWorkflowPrimitive, records: list[dict[str, Any]]) -> int:
    from tta_memory.transfer import import_workspace

    # Reach the server first: an empty file must not report "imported 0" from a URL that
    # nothing answers (the chunks below are the only round trips otherwise).
    await memory.list_sessions(limit=1)
    count = 0
    with progress.bar(f"importing into {memory.workspace}", total=len(records)) as advance:
        for start in range(0, len(records), IMPORT_CHUNK):
            chunk = records[start : start + IMPORT_CHUNK]
            count += await import_workspace(memory, chunk)
            advance(len(chunk))
    return count


def import_cmd(args: argparse.Namespace) -> int:
    """``tta-memory import FILE``."""
    records = parse_records(common.read_text(args.file), args.file)
    memory = common.memory(args)
    count = common.run(_import(memory, records))
    print(f"imported {count} record(s) into workspace {memory.workspace!r}", file=sys.stderr)
    return EXIT_OK
