"""A target's identity, its state directory and its heal lock file: shared by every runner of the target."""

from __future__ import annotations

from pathlib import Path

import filelock
import pytest

from remedies.target_state import HealingLocked, HealLock, TargetIdentity, state_dir


def test_identity_is_name_url_and_database_never_credentials(inventory_factory, secret):
    target = inventory_factory(
        http={"base_url": "https://ops:hunter2@erp.test:8443/"},
        database={"url": f"postgresql://tsh:{secret}@db.test:5433/tsh_erp"},
    )
    identity = TargetIdentity.of(target)
    assert identity == TargetIdentity("unit", "https://erp.test:8443", "db.test:5433/tsh_erp")
    assert secret not in repr(identity) and "hunter2" not in repr(identity)


def test_identity_changes_with_what_names_the_system_not_with_the_password(inventory_factory):
    base = TargetIdentity.of(inventory_factory(database={"url": "postgresql://tsh:one@db.test/tsh"}))
    same = TargetIdentity.of(inventory_factory(database={"url": "postgresql://tsh:two@db.test:5432/tsh"}))
    other_port = TargetIdentity.of(inventory_factory(database={"url": "postgresql://tsh:one@db.test:5433/tsh"}))
    other_name = TargetIdentity.of(inventory_factory(target={"name": "unit2", "kind": "staging"}))
    assert base.digest == same.digest
    assert len({base.digest, other_port.digest, other_name.digest}) == 3
    assert -(2**63) <= base.advisory_key < 2**63


@pytest.mark.parametrize(
    ("environ", "root"),
    [
        ({"TSH_HEAL_STATE_DIR": "/srv/heal", "XDG_STATE_HOME": "/x"}, Path("/srv/heal")),
        ({"XDG_STATE_HOME": "/x"}, Path("/x/tsh-erp-verification")),
        ({}, Path.home() / ".local" / "state" / "tsh-erp-verification"),
    ],
    ids=["override", "xdg", "default"],
)
def test_state_dir_is_per_target_under_the_state_home(inventory, environ, root):
    identity = TargetIdentity.of(inventory)
    assert state_dir(identity, environ) == root / identity.digest[:24]


def test_the_lock_file_refuses_a_second_heal_and_is_free_afterwards(inventory, tmp_path):
    lock = HealLock(inventory, tmp_path)  # its database (127.0.0.1:9) does not answer: the lock file holds alone
    with filelock.FileLock(tmp_path / "heal.lock", timeout=0), pytest.raises(HealingLocked) as error, lock.held():
        pass
    assert str(error.value) == (
        f"another heal of target unit is running (lock file {tmp_path / 'heal.lock'} is held); try again when it ends"
    )
    with lock.held():
        pass
