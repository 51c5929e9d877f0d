"""Session files: private modes, atomic replacement, loose permissions repaired with a warning."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shopctl.application.ports import StoredSession
from shopctl.domain.errors import Hint, InvalidInput, NotAuthenticated
from shopctl.infrastructure.sessions import FileSessionStore

SESSION = StoredSession(
    user_id=7,
    email="alice@example.com",
    role="customer",
    access_token="access.token.value",
    access_expires_at=datetime(2026, 1, 1, 12, 15, tzinfo=UTC),
    refresh_token="refresh.token.value",
    refresh_expires_at=datetime(2026, 1, 31, 12, 0, tzinfo=UTC),
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def warnings() -> list[str]:
    return []


@pytest.fixture
def store(tmp_path: Path, warnings: list[str]) -> FileSessionStore:
    return FileSessionStore(tmp_path / "sessions", "alice", warn=warnings.append)


def test_round_trip_with_private_modes(store: FileSessionStore) -> None:
    assert store.load() is None
    store.save(SESSION)
    assert store.load() == SESSION
    assert mode(store.path) == 0o600
    assert mode(store.directory) == 0o700
    assert store.path.name == "alice.json"


def test_save_replaces_atomically_and_leaves_no_temp_file(store: FileSessionStore) -> None:
    store.save(SESSION)
    inode = store.path.stat().st_ino
    store.save(SESSION)
    assert store.path.stat().st_ino != inode  # a new file renamed over the old one
    assert sorted(p.name for p in store.directory.iterdir()) == ["alice.json"]


def test_profiles_have_their_own_files(tmp_path: Path) -> None:
    alice = FileSessionStore(tmp_path, "alice")
    bob = FileSessionStore(tmp_path, "bob")
    alice.save(SESSION)
    assert bob.load() is None and alice.load() == SESSION


def test_clear(store: FileSessionStore) -> None:
    assert store.clear() is False
    store.save(SESSION)
    assert store.clear() is True
    assert store.load() is None


def test_loose_file_and_directory_modes_are_repaired_with_a_warning(
    store: FileSessionStore, warnings: list[str]
) -> None:
    store.save(SESSION)
    os.chmod(store.path, 0o644)
    os.chmod(store.directory, 0o755)  # noqa: S103 - the looseness under test
    assert store.load() == SESSION
    assert mode(store.path) == 0o600 and mode(store.directory) == 0o700
    assert len(warnings) == 2
    assert "0644" in warnings[1] and "0600" in warnings[1]
    assert all("token.value" not in w for w in warnings)


def test_a_symbolic_link_is_refused(store: FileSessionStore, tmp_path: Path) -> None:
    store.save(SESSION)
    elsewhere = tmp_path / "elsewhere.json"
    store.path.rename(elsewhere)
    store.path.symlink_to(elsewhere)
    with pytest.raises(InvalidInput, match="not a regular file"):
        store.load()


@pytest.mark.parametrize("content", ["", "{", "[]", '{"user_id": 1}', "\x00\x01"])
def test_a_damaged_file_means_log_in_again(store: FileSessionStore, content: str) -> None:
    store.save(SESSION)
    store.path.write_text(content)
    with pytest.raises(NotAuthenticated, match="damaged") as raised:
        store.load()
    assert raised.value.hint is Hint.LOG_IN


def test_exclusive_can_be_entered_again_after_release(store: FileSessionStore) -> None:
    with store.exclusive():
        pass
    with store.exclusive():
        store.save(SESSION)
    assert store.load() == SESSION
