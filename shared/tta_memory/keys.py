"""Key names. Keys that one multi-key operation touches share a ``{hash tag}`` so that Redis
Cluster and Redis Software can carry the data; user-given parts are escaped so that no id can
end a hash tag early or collide with another key."""

from __future__ import annotations

from urllib.parse import quote


def _esc(part: str) -> str:
    # quote() leaves letters, digits and "_.-~" alone and escapes { } : % and the rest.
    return quote(part, safe="")


class Keys:
    """Builds every key and index name of one prefix and workspace."""

    def __init__(self, prefix: str, workspace: str) -> None:
        self.prefix = prefix
        self.workspace = workspace
        self._ws = _esc(workspace)

    # Index names and prefixes are per engine prefix; documents carry their workspace.
    @staticmethod
    def index_names(prefix: str) -> dict[str, str]:
        return {name: f"{prefix}:idx:{name}" for name in ("deep", "cache", "group")}

    @staticmethod
    def doc_prefix(prefix: str, kind: str) -> str:
        return f"{prefix}:{kind}:"

    def session_tag(self, session_id: str) -> str:
        return f"{{{self._ws}|{_esc(session_id)}}}"

    def session_seq(self, session_id: str) -> str:
        return f"{self.prefix}:sess:{self.session_tag(session_id)}:seq"

    def session_active(self, session_id: str) -> str:
        return f"{self.prefix}:sess:{self.session_tag(session_id)}:active"

    def session_archived(self, session_id: str) -> str:
        return f"{self.prefix}:sess:{self.session_tag(session_id)}:archived"

    def sessions_registry(self) -> str:
        return f"{self.prefix}:ws:{{{self._ws}}}:sessions"

    def cache_entry(self, entry_id: str, session_id: str | None) -> str:
        tag = self.session_tag(session_id) if session_id else f"{{{self._ws}}}"
        return f"{self.prefix}:cache:{tag}:{entry_id}"

    def deep(self, memory_id: str) -> str:
        return f"{self.prefix}:deep:{self._ws}:{_esc(memory_id)}"

    def group(self, group_id: str) -> str:
        return f"{self.prefix}:group:{self._ws}:{_esc(group_id)}"

    def deep_tails(self) -> str:
        """Hash of (scope, session) -> the session's newest deep memory (contextual.py)."""
        return f"{self.prefix}:deeptails:{{{self._ws}}}"

    def deep_stats(self) -> str:
        return f"{self.prefix}:deepstats:{{{self._ws}}}"

    @staticmethod
    def deep_total(prefix: str) -> str:
        return f"{prefix}:deepstats"

    def pafs(self) -> str:
        return f"{self.prefix}:paf:{{{self._ws}}}"

    @staticmethod
    def meta(prefix: str) -> str:
        return f"{prefix}:meta"

    @staticmethod
    def embedding_cache(prefix: str) -> str:
        return f"{prefix}:embcache"
