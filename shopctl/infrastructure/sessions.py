"""Session files: ``<config dir>/sessions/<profile>.json``, mode 0600 in a 0700 directory.

Written atomically (temp file in the same directory, fsync, rename), so a crash never
leaves half a session; a file or directory that others could read is tightened, with a
warning, because its tokens may have leaked.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from shopctl.application.ports import SessionStore, StoredSession
from shopctl.domain.errors import Hint, InvalidInput, NotAuthenticated

FILE_MODE = 0o600
DIR_MODE = 0o700
FIELDS = (
    "user_id",
    "email",
    "role",
    "access_token",
    "access_expires_at",
    "refresh_token",
    "refresh_expires_at",
)


def _ignore(_: str) -> None:
    pass


class FileSessionStore(SessionStore):
    def __init__(
        self, directory: Path, profile: str, *, warn: Callable[[str], None] = _ignore
    ) -> None:
        self.directory = directory
        self._profile = profile
        self._warn = warn

    @property
    def profile(self) -> str:
        return self._profile

    @property
    def path(self) -> Path:
        return self.directory / f"{self._profile}.json"

    # -- reading ----------------------------------------------------------------------------

    def load(self) -> StoredSession | None:
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return None
        self._check_directory()
        self._check_file(info)
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, encoding="utf-8") as file:
                data = json.load(file)
            return StoredSession(
                user_id=int(data["user_id"]),
                email=str(data["email"]),
                role=str(data["role"]),
                access_token=str(data["access_token"]),
                access_expires_at=datetime.fromisoformat(data["access_expires_at"]),
                refresh_token=str(data["refresh_token"]),
                refresh_expires_at=datetime.fromisoformat(data["refresh_expires_at"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            raise NotAuthenticated(
                f"the session file {self.path} is damaged", hint=Hint.LOG_IN
            ) from None

    def _check_directory(self) -> None:
        info = os.lstat(self.directory)
        if stat.S_IMODE(info.st_mode) & 0o077:
            self._warn(
                f"{self.directory} was accessible to other users "
                f"(mode {stat.S_IMODE(info.st_mode):04o}); changed it to 0700"
            )
            os.chmod(self.directory, DIR_MODE)

    def _check_file(self, info: os.stat_result) -> None:
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput(f"refusing to read {self.path}: it is not a regular file")
        if info.st_uid != os.getuid():
            raise InvalidInput(f"refusing to read {self.path}: it belongs to another user")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            self._warn(
                f"{self.path} was readable by other users (mode {mode:04o}); changed it to "
                "0600 — log in again if its tokens may have leaked"
            )
            os.chmod(self.path, FILE_MODE)

    # -- writing ----------------------------------------------------------------------------

    def save(self, session: StoredSession) -> None:
        from shopctl.infrastructure.config import ensure_private_dir

        ensure_private_dir(self.directory)
        data = {name: getattr(session, name) for name in FIELDS}
        for name in ("access_expires_at", "refresh_expires_at"):
            data[name] = data[name].isoformat()
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=f".{self._profile}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                os.fchmod(file.fileno(), FILE_MODE)
                json.dump(data, file, indent=2)
                file.write("\n")
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        self._sync_directory()

    def clear(self) -> bool:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            return False
        self._sync_directory()
        return True

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        import fcntl

        from shopctl.infrastructure.config import ensure_private_dir

        ensure_private_dir(self.directory)
        fd = os.open(self.directory / f".{self._profile}.lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock
