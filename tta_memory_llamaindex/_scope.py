"""The serialisable scope of a LlamaIndex component: which server, workspace, user and prefix.

A component's ``model_dump()`` holds its scope so that a reloaded one reaches the same memory,
but never a password in clear: the URL is dumped without it, and a reloaded component takes it
again from the environment, in this order:

1. ``TTA_MEMORY_REDIS_URL`` (or ``REDIS_URL``) when it names the same server with credentials;
2. ``TTA_MEMORY_REDIS_PASSWORD`` (with the user name kept in the dumped URL, if any).
"""

from __future__ import annotations

import os
from typing import Self
from urllib.parse import quote, unquote, urlsplit

from pydantic import BaseModel, Field, PrivateAttr, model_validator
from tta_memory import MemoryWorkflowPrimitive, Settings
from tta_memory.errors import InvalidInputError

PASSWORD_ENV = "TTA_MEMORY_REDIS_PASSWORD"
SCOPE_KEYS = ("redis_url", "workspace", "user_id", "prefix")
URL_ENVS = ("TTA_MEMORY_REDIS_URL", "REDIS_URL")


def _split_auth(netloc: str) -> tuple[str | None, str | None, str]:
    """``user:password@host:port`` → (user, password, host:port), percent-decoded."""
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        return None, None, netloc
    user, colon, password = userinfo.partition(":")
    return (unquote(user) or None), (unquote(password) if colon else None), hostport


def _with_auth(url: str, user: str | None, password: str | None) -> str:
    parts = urlsplit(url)
    _, _, hostport = _split_auth(parts.netloc)
    auth = quote(user or "", safe="")
    if password is not None:
        auth += ":" + quote(password, safe="")
    netloc = f"{auth}@{hostport}" if auth else hostport
    # Not urlunsplit: it drops the "//" of an empty netloc (unix:///path → unix:/path).
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{netloc}{parts.path}{query}"


def redact(url: str | None) -> str | None:
    """``url`` without its password (the user name stays); ``None`` stays ``None``."""
    if url is None:
        return None
    user, password, _ = _split_auth(urlsplit(url).netloc)
    return url if password is None else _with_auth(url, user, None)


def _server(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    _, _, hostport = _split_auth(parts.netloc)
    # A unix socket is its path; a TCP server its host and port (the path is the database).
    return parts.scheme, parts.path if parts.scheme == "unix" else hostport.lower()


def restore(url: str | None) -> str | None:
    """``url`` with its password resolved again from the environment (see the module doc).

    A URL that has a password, or ``None`` (the engine then reads the environment itself), is
    returned unchanged; so is one for which the environment holds no password.
    """
    if url is None:
        return None
    user, password, _ = _split_auth(urlsplit(url).netloc)
    if password is not None:
        return url
    for var in URL_ENVS:
        configured = os.environ.get(var)
        if configured and _server(configured) == _server(url):
            env_user, env_password, _ = _split_auth(urlsplit(configured).netloc)
            if env_password is not None:
                return _with_auth(url, env_user or user, env_password)
    secret = os.environ.get(PASSWORD_ENV)
    return _with_auth(url, user, secret) if secret else url


class Scope(BaseModel):
    """Where a component's memory lives: its dump holds no secret.

    A password given in ``redis_url`` is kept for the connection only; the field (and so
    ``model_dump()``) holds the URL without it.
    """

    redis_url: str | None = Field(
        default=None,
        description="Redis URL without its password (None: TTA_MEMORY_REDIS_URL, REDIS_URL or "
        "the embedded server, resolved when loaded)",
    )
    workspace: str | None = Field(default=None, description="The tenant")
    user_id: str | None = Field(default=None, description="The acting user")
    prefix: str | None = Field(default=None, description="The engine's key prefix")
    _secret_url: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _hide_password(self) -> Self:
        public = redact(self.redis_url)
        if public != self.redis_url:
            self._secret_url, self.redis_url = self.redis_url, public
        return self

    def build_engine(self) -> MemoryWorkflowPrimitive:
        """A new engine for this scope (a password dropped from the dump is restored)."""
        settings = Settings(prefix=self.prefix) if self.prefix else None
        return MemoryWorkflowPrimitive(
            self._secret_url or restore(self.redis_url),
            self.user_id or "default",
            workspace=self.workspace,
            settings=settings,
        )


def scope_of(memory: MemoryWorkflowPrimitive, redis_url: str | None) -> dict[str, str | None]:
    """The scope fields of an engine reached through ``redis_url`` (dumped redacted)."""
    return {
        "redis_url": redis_url,
        "workspace": memory.workspace,
        "user_id": memory.user_id,
        "prefix": memory.settings.prefix,
    }


def resolve_scope(
    memory: MemoryWorkflowPrimitive | None, scope: dict[str, str | None]
) -> tuple[MemoryWorkflowPrimitive, dict[str, str | None]]:
    """The engine of a component and its scope fields, from ``memory`` or from ``scope``.

    Args:
        memory: The caller's engine, or ``None`` to build one from ``scope``.
        scope: ``redis_url``, ``workspace``, ``user_id`` and ``prefix`` (``None`` if unset).

    Returns:
        The engine, and the fields naming it in full (a ``None`` URL stays ``None``: it is
        resolved from the environment again when loaded).

    Raises:
        InvalidInputError: ``memory`` is not an engine, or comes with a scope; a bad id.
    """
    if memory is None:
        engine = Scope.model_validate(scope).build_engine()
        return engine, scope_of(engine, scope.get("redis_url"))
    if scope.get("prefix") is not None:
        raise InvalidInputError("pass either memory= or a scope (prefix=), not both")
    engine = MemoryWorkflowPrimitive.resolve(
        memory,
        redis_url=scope.get("redis_url"),
        user_id=scope.get("user_id"),
        workspace=scope.get("workspace"),
    )
    return engine, scope_of(engine, engine.redis_url)
