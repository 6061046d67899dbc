"""Backup faults on the sandbox's pre-deploy dumps (``home/backups``): none, an old one, a broken one, too many.

The sandbox's reset lays out the backups directory again (one fresh, valid
dump), which takes every one of these back; each fault reports itself by what
the directory holds now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..backups import CUSTOM_FORMAT_MAGIC, dumps_newest_first, place_copy, utc_now
from ..errors import SandboxError
from ..facts import BACKUPS_KEPT
from ..state import HomeLayout
from .base import Fault, FaultKind, FaultTarget, FaultView

# The extra dumps of backup-too-many are this far apart, older than the newest, so even the most
# allowed stay within the retention age (30 days).
EXTRA_DUMP_SPACING = timedelta(hours=12)
MAX_EXTRA_DUMPS = 40
MAX_STALE_HOURS = 24 * 365


def _layout(target: FaultView) -> HomeLayout:
    return HomeLayout(target.home)


def _existing_dumps(target: FaultView) -> list[Path]:
    """The dumps, newest first; a fault that changes one needs one (reset lays one out)."""
    dumps = dumps_newest_first(_layout(target))
    if not dumps:
        raise SandboxError("the backups directory holds no dump (python -m sandbox reset lays one out)")
    return dumps


def _whole_number(name: str, argument: str | None, maximum: int, what: str) -> int:
    if not (argument or "").isdigit() or not 1 <= int(argument) <= maximum:
        raise SandboxError(f"fault {name} needs {what}, 1..{maximum} (got {argument!r})")
    return int(argument)


@dataclass(frozen=True, kw_only=True)
class BackupsMissingFault(FaultKind):
    """Every dump is deleted, as when the deploy's backup step failed or wrote elsewhere."""

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        for path in dumps_newest_first(_layout(target)):
            path.unlink()

    def active_specs(self, target: FaultView) -> list[str]:
        return [] if dumps_newest_first(_layout(target)) else [self.name]


@dataclass(frozen=True, kw_only=True)
class BackupStaleFault(FaultKind):
    """The newest dump is renamed and dated ``<hours>`` ago: no backup was made since."""

    argument_usage: str = "<hours>"

    def check_argument(self, argument: str | None) -> None:
        _whole_number(self.name, argument, MAX_STALE_HOURS, "a number of hours")

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        newest = _existing_dumps(target)[0]
        place_copy(newest, _layout(target), utc_now() - timedelta(hours=int(str(fault.argument))))
        newest.unlink()

    def active_specs(self, target: FaultView) -> list[str]:
        dumps = dumps_newest_first(_layout(target))
        if not dumps:
            return []
        hours = round((utc_now().timestamp() - dumps[0].stat().st_mtime) / 3600)
        return [f"{self.name}:{hours}"] if hours >= 1 else []


@dataclass(frozen=True, kw_only=True)
class BackupCorruptFault(FaultKind):
    """The newest dump is cut to half its size and its archive header overwritten: pg_restore cannot read it."""

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        newest = _existing_dumps(target)[0]
        content = newest.read_bytes()
        newest.write_bytes(b"\0" * len(CUSTOM_FORMAT_MAGIC) + content[len(CUSTOM_FORMAT_MAGIC) : len(content) // 2])

    def active_specs(self, target: FaultView) -> list[str]:
        dumps = dumps_newest_first(_layout(target))
        if not dumps:
            return []
        with dumps[0].open("rb") as stream:
            return [] if stream.read(len(CUSTOM_FORMAT_MAGIC)) == CUSTOM_FORMAT_MAGIC else [self.name]


@dataclass(frozen=True, kw_only=True)
class BackupsTooManyFault(FaultKind):
    """Older copies of the newest dump pile up until ``<count>`` more than the sandbox keeps are there."""

    argument_usage: str = "<count>"

    def check_argument(self, argument: str | None) -> None:
        _whole_number(self.name, argument, MAX_EXTRA_DUMPS, "a number of dumps")

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        dumps = _existing_dumps(target)
        oldest = datetime.fromtimestamp(dumps[-1].stat().st_mtime, UTC)
        for number in range(1, BACKUPS_KEPT + int(str(fault.argument)) - len(dumps) + 1):
            place_copy(dumps[0], _layout(target), oldest - number * EXTRA_DUMP_SPACING)

    def active_specs(self, target: FaultView) -> list[str]:
        extra = len(dumps_newest_first(_layout(target))) - BACKUPS_KEPT
        return [f"{self.name}:{extra}"] if extra > 0 else []


KINDS = (
    BackupsMissingFault(name="backup-missing", summary="every pre-deploy dump is deleted"),
    BackupStaleFault(name="backup-stale", summary="the newest dump is renamed and dated <hours> ago"),
    BackupCorruptFault(name="backup-corrupt", summary="the newest dump is cut short and its header garbled"),
    BackupsTooManyFault(
        name="backup-too-many",
        summary=f"older dumps pile up: <count> more than the {BACKUPS_KEPT} kept (at most {MAX_EXTRA_DUMPS})",
    ),
)
