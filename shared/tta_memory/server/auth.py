"""The embedded server's password and owner-only files.

The socket already sits in a 0700 directory; the password is the second lock (issue 8): a
process that reaches the socket some other way (a shared runtime dir, a copied path, a later
switch to TCP) is still refused. The password is generated once per data directory, kept in
``<data dir>/password`` (mode 0600) and handed to ``redis-server`` on stdin, so it never shows
in ``ps``. Every file the server writes is created under umask 077.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from pathlib import Path
from urllib.parse import quote

PASSWORD_NAME = "password"
# Files and directories of a data dir get no group or other bits.
OWNER_ONLY_UMASK = 0o077


def read_password(data_dir: Path) -> str | None:
    """The data directory's server password, or ``None`` when none was generated yet."""
    try:
        text = (data_dir / PASSWORD_NAME).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def ensure_password(data_dir: Path) -> str:
    """Return the data directory's password, generating it (0600) on first use.

    The file is created with ``O_EXCL``, so two processes starting the same server at once (they
    also hold the start lock) can never end up with different passwords.
    """
    existing = read_password(data_dir)
    if existing is not None:
        return existing
    password = secrets.token_hex(24)
    path = data_dir / PASSWORD_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_password(data_dir) or _replace_empty(path)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(password + "\n")
    return password


def _replace_empty(path: Path) -> str:
    path.unlink()
    return ensure_password(path.parent)


def restrict_tree(root: Path) -> None:
    """Remove group/other permission bits from everything under ``root`` (files an older
    version created with the default umask)."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            _owner_only(Path(dirpath) / name)
    _owner_only(root)


def _owner_only(path: Path) -> None:
    with contextlib.suppress(OSError):
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode) or not stat.S_IMODE(info.st_mode) & 0o077:
            return
        os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)


def url_with_password(socket_path: Path, password: str | None) -> str:
    """``unix://`` URL of the socket; the password travels as a query argument (redis-py reads
    it) so that code splitting the socket path off at ``?`` keeps working."""
    url = f"unix://{socket_path}"
    return f"{url}?password={quote(password, safe='')}" if password else url


_SECRET_IN_QUERY = re.compile(r"(password=)[^&]*")
_SECRET_IN_NETLOC = re.compile(r"^([a-z]+://[^/@:]*:)[^/@]*@", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, for printing."""
    return _SECRET_IN_NETLOC.sub(r"\1***@", _SECRET_IN_QUERY.sub(r"\1***", url))
