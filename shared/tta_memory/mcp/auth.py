"""Bearer tokens of the HTTP transport: each token maps to exactly one workspace and user.

The token file is TOML and holds only the SHA-256 of each token, so a copy of the file does
not let anyone in::

    [[token]]
    name = "alice-laptop"        # a label for the operator; optional
    sha256 = "3f1c…"             # hashlib.sha256(token.encode()).hexdigest()
    workspace = "team-a"
    user_id = "alice"

``tta-memory mcp new-token --workspace team-a --user alice --tokens tokens.toml`` prints a new
token once and appends its entry to the file.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tomllib
from pathlib import Path
from typing import Any

from mcp.server.auth.provider import AccessToken
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tta_memory.errors import InvalidInputError
from tta_memory.validation import check_id

TOKEN_PREFIX = "ttam_"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def hash_token(token: str) -> str:
    """The SHA-256 hex digest the token file stores for ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Identity(BaseModel):
    """Who a call acts as: one workspace and one user."""

    model_config = ConfigDict(frozen=True)

    workspace: str
    user_id: str

    @field_validator("workspace", "user_id")
    @classmethod
    def _valid_id(cls, value: str, info: Any) -> str:
        return check_id(info.field_name, value)


class TokenEntry(Identity):
    """One line of the token file."""

    sha256: str
    name: str = Field(default="")

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        value = value.strip().lower()
        if not _SHA256.match(value):
            raise ValueError("sha256 must be the 64-character hex SHA-256 digest of the token")
        return value


class TokenTable:
    """The tokens the HTTP server accepts, by hash.

    Args:
        entries: The token entries (no two with the same hash).

    Raises:
        InvalidInputError: Two entries share a token hash.
    """

    def __init__(self, entries: list[TokenEntry]) -> None:
        self._by_hash: dict[str, TokenEntry] = {}
        for entry in entries:
            if entry.sha256 in self._by_hash:
                raise InvalidInputError(f"token hash {entry.sha256[:12]}… is listed twice")
            self._by_hash[entry.sha256] = entry

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TokenTable:
        """Read a token file.

        Raises:
            InvalidInputError: The file is missing, not TOML, or an entry is malformed.
        """
        file = Path(path)
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidInputError(f"token file {file} does not exist") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"token file {file} is not valid TOML: {exc}") from None
        rows = data.get("token", [])
        if not isinstance(rows, list):
            raise InvalidInputError(f"token file {file}: use [[token]] tables")
        entries = []
        for i, row in enumerate(rows, 1):
            try:
                entries.append(TokenEntry.model_validate(row))
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
                )
                raise InvalidInputError(f"token file {file}, entry {i}: {problems}") from None
        return cls(entries)

    def __len__(self) -> int:
        return len(self._by_hash)

    def identities(self) -> list[Identity]:
        """The distinct identities the tokens grant."""
        unique = {
            Identity(workspace=e.workspace, user_id=e.user_id) for e in self._by_hash.values()
        }
        return sorted(unique, key=lambda i: (i.workspace, i.user_id))

    def lookup(self, token: str) -> TokenEntry | None:
        """The entry of ``token``, or ``None`` if it is unknown."""
        return self._by_hash.get(hash_token(token))


class StaticTokenVerifier:
    """The SDK ``TokenVerifier`` over a :class:`TokenTable`.

    An unknown token verifies to ``None``; the SDK's bearer middleware then answers 401.
    The workspace and user travel in the access token's claims, which is the only place the
    tools read them from over HTTP.
    """

    def __init__(self, table: TokenTable) -> None:
        self.table = table

    async def verify_token(self, token: str) -> AccessToken | None:
        entry = self.table.lookup(token)
        if entry is None:
            return None
        return AccessToken(
            token=token,
            client_id=entry.name or entry.sha256[:12],
            scopes=[],
            subject=entry.user_id,
            claims={"workspace": entry.workspace, "user_id": entry.user_id},
        )


def identity_of(token: AccessToken | None) -> Identity | None:
    """The identity an access token (made by :class:`StaticTokenVerifier`) grants."""
    claims = token.claims if token is not None else None
    if not claims or "workspace" not in claims or "user_id" not in claims:
        return None
    return Identity(workspace=claims["workspace"], user_id=claims["user_id"])


def new_token() -> str:
    """A fresh random token (256 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_entry_toml(token: str, workspace: str, user_id: str, name: str = "") -> str:
    """The ``[[token]]`` table to append to a token file for ``token``."""
    entry = TokenEntry(sha256=hash_token(token), workspace=workspace, user_id=user_id, name=name)

    def q(value: str) -> str:  # TOML basic string: escape backslash and quote
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["[[token]]"]
    if entry.name:
        lines.append(f"name = {q(entry.name)}")
    lines += [
        f"sha256 = {q(entry.sha256)}",
        f"workspace = {q(entry.workspace)}",
        f"user_id = {q(entry.user_id)}",
    ]
    return "\n".join(lines) + "\n"
