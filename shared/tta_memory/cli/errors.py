"""Exit codes of ``tta-memory`` and the one-line message for every error a user can cause.

Exit codes (documented in the README's CLI section):

====  ======================================================================================
0     success
1     the engine refused the call (a conflict, an unknown id), or a check found a problem
      (``doctor``, ``server status`` of a stopped server)
2     usage: unknown command or option, missing argument
3     bad input: a file that cannot be read, is not UTF-8, or holds invalid records; a
      malformed URL; an invalid ``TTA_MEMORY_*`` setting (the message names the variable)
4     cannot write the output (``-o`` into a missing directory, a full disk)
5     Redis is unreachable, refused the password, or the embedded server could not start
70    internal error: a bug; ``--debug`` prints the traceback
130   interrupted (Ctrl-C)
141   the reader of the output went away (``tta-memory export | head -1``)
====  ======================================================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tta_memory.errors import (
    BackendUnavailableError,
    InvalidInputError,
    QueryEngineMissingError,
    ServerNotFoundError,
    TTAMemoryError,
    causes,
)

if TYPE_CHECKING:
    from tta_memory.cli.common import Target

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_OUTPUT = 4
EXIT_UNAVAILABLE = 5
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


class CliError(TTAMemoryError):
    """An error the command line reports as one line, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def input_error(source: str, exc: BaseException) -> CliError:
    """The message for an input file that cannot be read or decoded."""
    if isinstance(exc, UnicodeDecodeError):
        return CliError(
            f"{source}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
            f"{exc.start}); save the file as UTF-8 and retry",
            EXIT_INPUT,
        )
    if isinstance(exc, OSError):
        return CliError(f"cannot read {source}: {exc.strerror or exc}", EXIT_INPUT)
    return CliError(f"{source}: {exc}", EXIT_INPUT)


def output_error(target: str, exc: OSError) -> CliError:
    """The message for an output file that cannot be written."""
    return CliError(f"cannot write {target}: {exc.strerror or exc}", EXIT_OUTPUT)


def describe(exc: BaseException, target: Target | None) -> tuple[str, int]:
    """The one-line message and exit code of ``exc``.

    Args:
        exc: What a command raised.
        target: The Redis URL in use (for hints that fit it), if one was resolved.

    Returns:
        ``(message, exit code)``; the message has no traceback and no password.
    """
    if isinstance(exc, CliError):
        return str(exc), exc.code
    if _is_unreachable(exc):
        return _unreachable(exc, target), EXIT_UNAVAILABLE
    if isinstance(exc, ServerNotFoundError | QueryEngineMissingError):
        return first_line(exc), EXIT_UNAVAILABLE
    if isinstance(exc, InvalidInputError):
        return first_line(exc), EXIT_INPUT
    if isinstance(exc, TTAMemoryError):
        return first_line(exc), EXIT_ERROR
    if _is_validation_error(exc):
        return _validation(exc), EXIT_INPUT
    return (
        f"internal error: {type(exc).__name__}: {first_line(exc)} "
        "(run again with --debug for the traceback, and please report it)",
        EXIT_INTERNAL,
    )


def first_line(exc: BaseException) -> str:
    """An error's message without what follows it: more lines, or a server log's tail."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0] if "\n--- " not in text else text.split("\n--- ")[0]


def _is_unreachable(exc: BaseException) -> bool:
    import socket

    import redis

    if isinstance(exc, ServerNotFoundError):
        return False
    return any(
        isinstance(
            e,
            BackendUnavailableError
            | redis.ConnectionError
            | redis.TimeoutError
            | socket.gaierror
            | ConnectionRefusedError,
        )
        for e in causes(exc)
    )


def _unreachable(exc: BaseException, target: Target | None) -> str:
    import socket

    import redis

    chain = causes(exc)
    if isinstance(exc, BackendUnavailableError) and not any(
        isinstance(e, redis.RedisError | OSError) for e in chain[1:]
    ):
        # Raised by the engine or the server launcher with its own full explanation.
        detail = first_line(exc)
        return detail if target is None else f"{detail} [{target.describe()}]"
    root = chain[-1]
    if any(isinstance(e, redis.AuthenticationError) for e in chain):
        reason = "the server refused the password"
    elif any(isinstance(e, socket.gaierror) for e in chain) or "Name or service" in str(root):
        reason = "unknown host"
    else:
        reason = first_line(root)
    where = target.describe() if target is not None else "the configured Redis"
    hint = target.unreachable_hint() if target is not None else ""
    return f"cannot reach Redis at {where}: {reason}. {hint}".rstrip()


def _is_validation_error(exc: BaseException) -> bool:
    return type(exc).__name__ == "ValidationError" and hasattr(exc, "errors")


def _validation(exc: BaseException) -> str:
    errors = exc.errors()  # type: ignore[attr-defined]
    first = errors[0] if errors else {}
    field = ".".join(str(p) for p in first.get("loc", ())) or "value"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    # The model's name: an import's records are checked, with their line, in cli/transfer.py;
    # a bad TTA_MEMORY_* setting is an InvalidSettingError naming its variable.
    title = getattr(exc, "title", "") or "value"
    return f"invalid {title}: {field}: {first.get('msg', 'invalid value')}{more}"
