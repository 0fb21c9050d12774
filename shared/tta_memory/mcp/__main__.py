"""``python -m tta_memory.mcp``: the MCP server (see :func:`tta_memory.mcp.main`)."""

from tta_memory.mcp import main

raise SystemExit(main())
