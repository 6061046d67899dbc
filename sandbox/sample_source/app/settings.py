"""Typed settings of the sample app."""

from __future__ import annotations

from dataclasses import dataclass

ENVIRONMENTS = ("development", "staging", "production")


@dataclass(frozen=True)
class Settings:
    environment: str
    log_level: str

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ValueError(f"ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}")
