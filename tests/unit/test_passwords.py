"""argon2id hashing through passlib (libpass): parameters, verification, rehash."""

import pytest

from shopctl.infrastructure.security.passwords import Argon2PasswordHasher


@pytest.fixture(scope="module")
def hasher() -> Argon2PasswordHasher:
    return Argon2PasswordHasher()


def test_hashes_with_argon2id_at_owasp_minimum(hasher: Argon2PasswordHasher) -> None:
    hashed = hasher.hash("correct-horse-9")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert hashed != hasher.hash("correct-horse-9")  # salted


def test_verifies(hasher: Argon2PasswordHasher) -> None:
    hashed = hasher.hash("correct-horse-9")
    assert hasher.verify("correct-horse-9", hashed) == (True, None)
    assert hasher.verify("correct-horse-8", hashed) == (False, None)
    assert hasher.verify("correct-horse-9", "not a hash") == (False, None)


def test_rehashes_when_the_parameters_changed(hasher: Argon2PasswordHasher) -> None:
    old = hasher.hash("correct-horse-9")
    stronger = Argon2PasswordHasher(time_cost=3)
    matches, new_hash = stronger.verify("correct-horse-9", old)
    assert matches and new_hash is not None
    assert "$m=19456,t=3,p=1$" in new_hash
    assert stronger.verify("correct-horse-9", new_hash) == (True, None)
    assert stronger.verify("wrong-horse-9", old) == (False, None)


def test_refuses_parameters_below_the_minimum() -> None:
    with pytest.raises(ValueError, match="19456"):
        Argon2PasswordHasher(memory_cost=4096)
    with pytest.raises(ValueError, match="time_cost"):
        Argon2PasswordHasher(time_cost=1)


def test_waste_time_verifies_a_hash_as_costly_as_a_real_one(hasher: Argon2PasswordHasher) -> None:
    from passlib.hash import argon2

    parsed = argon2.from_string(hasher.unusable_hash)
    assert (parsed.type, parsed.memory_cost, parsed.rounds, parsed.parallelism) == (
        "id",
        hasher.memory_cost,
        hasher.time_cost,
        1,
    )
    assert not argon2.verify("anything at all", hasher.unusable_hash)
    assert hasher.verify("anything at all", hasher.unusable_hash) == (False, None)
    hasher.waste_time("anything at all")  # verifies against it: no error, no match
