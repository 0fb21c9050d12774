"""The ``tta-memory`` command line, one module per command group.

- :mod:`.server` (``server start|stop|status``), :mod:`.doctor`, :mod:`.demo` (with the guide's
  :mod:`.scenarios` and their :mod:`.stage_loads` table), :mod:`.paf` (``paf import|export``),
  :mod:`.transfer` (``export``, ``import``), :mod:`.workspace` (``workspace list|stats|delete``),
  :mod:`.mcp`;
- :mod:`.app` (parsing, dispatch, error messages), :mod:`.errors` (exit codes),
  :mod:`.common`, :mod:`.progress`.

Every command that talks to Redis takes ``--url``; without it the URL is the configured one
(``TTA_MEMORY_REDIS_URL``, then ``REDIS_URL``), else the per-user embedded server (started when
needed). The engine is imported only by the command that needs it, so ``--help`` is instant.
"""

from tta_memory.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
