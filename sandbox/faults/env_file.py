"""Faults on the sandbox's env file (``NAME:<VAR>``): a secret left as a placeholder, or missing."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SandboxError
from ..provision import ENV_VARIABLES, PLACEHOLDER, edit_env_file, env_file_names
from ..state import HomeLayout
from .base import Fault, FaultKind, FaultTarget, FaultView


@dataclass(frozen=True, kw_only=True)
class EnvFileFault(FaultKind):
    """Edits one variable of the sandbox's env file; :meth:`Sandbox.reset` restores the file."""

    remove: bool
    arguments: tuple[str, ...] = ENV_VARIABLES

    @property
    def usage(self) -> str:
        return f"{self.name}:<VAR>"

    def check_argument(self, argument: str | None) -> None:
        if argument not in self.arguments:
            allowed = ", ".join(self.arguments)
            raise SandboxError(f"fault {self.name} needs a variable, one of: {allowed} (got {argument!r})")

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        edit_env_file(HomeLayout(target.home).env_file, str(fault.argument), None if self.remove else PLACEHOLDER)

    def active_specs(self, target: FaultView) -> list[str]:
        values = env_file_names(HomeLayout(target.home).env_file)
        if self.remove:
            return [f"{self.name}:{name}" for name in self.arguments if name not in values]
        return [f"{self.name}:{name}" for name in self.arguments if values.get(name) == PLACEHOLDER]


KINDS = (
    EnvFileFault(name="secret-placeholder", summary="the env file's VAR becomes <CHANGE_ME>", remove=False),
    EnvFileFault(name="secret-missing", summary="the env file loses the line of VAR", remove=True),
)
