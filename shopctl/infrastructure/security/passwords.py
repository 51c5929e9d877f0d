"""Password hashing with argon2id through the passlib API (the ``libpass`` distribution)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from shopctl.application.ports import PasswordHasher

# OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
MIN_MEMORY_KIB = 19456
MIN_TIME_COST = 2
PARALLELISM = 1


class Argon2PasswordHasher(PasswordHasher):
    def __init__(
        self, *, memory_cost: int = MIN_MEMORY_KIB, time_cost: int = MIN_TIME_COST
    ) -> None:
        if memory_cost < MIN_MEMORY_KIB or time_cost < MIN_TIME_COST:
            raise ValueError(
                f"argon2id needs memory_cost >= {MIN_MEMORY_KIB} KiB and time_cost >= "
                f"{MIN_TIME_COST}"
            )
        self.memory_cost = memory_cost
        self.time_cost = time_cost

    @cached_property
    def _context(self) -> Any:
        from passlib.context import CryptContext

        return CryptContext(
            schemes=["argon2"],
            argon2__type="ID",
            argon2__memory_cost=self.memory_cost,
            argon2__rounds=self.time_cost,
            argon2__parallelism=PARALLELISM,
        )

    def hash(self, password: str) -> str:
        return str(self._context.hash(password))

    def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        try:
            matches, new_hash = self._context.verify_and_update(password, password_hash)
        except (ValueError, TypeError):  # not an argon2 hash we can read
            return False, None
        return bool(matches), new_hash

    @property
    def unusable_hash(self) -> str:
        """A well-formed hash with our parameters that no password matches: verifying it
        costs what a real verify costs, and needs no extra hashing to make it first."""
        return (
            f"$argon2id$v=19$m={self.memory_cost},t={self.time_cost},p={PARALLELISM}"
            "$c2hvcGN0bC1kdW1teQ$" + "A" * 43
        )

    def waste_time(self, password: str) -> None:
        self._context.verify(password, self.unusable_hash)
