"""config.env_placeholders and config.app_settings_valid: every required variable is set, real and valid.

Evidence names the variable and the broken rule, never any part of a value,
its length or a hash of it.
"""

from __future__ import annotations

import re

import pytest

from fixtures.failures import CheckFailed

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.config]

# Template values a fresh server's env file still carries (the deploy guide's .env template).
PLACEHOLDER = re.compile(r"^$|<CHANGE_ME|<PASSWORD>|^changeme$", re.IGNORECASE)


def test_required_variable_is_set_and_valid(variable, env_file, inventory):
    rules = inventory.config
    where = {"variable": variable, "env_file": env_file.location}
    if env_file.error is not None:
        raise CheckFailed("unreachable", f"{variable}: the env file could not be read", **where, error=env_file.error)
    if not env_file.exists:
        raise CheckFailed("missing", f"{variable}: the env file does not exist", **where)
    if variable not in env_file.values:
        raise CheckFailed("missing", f"{variable} is not set in the env file", **where, rule="present")
    value = env_file.values[variable]
    if PLACEHOLDER.search(value.strip()):
        raise CheckFailed(
            "config", f"{variable} holds a template placeholder or is empty", **where, rule="not_placeholder"
        )
    minimum = rules.min_length.get(variable)
    if minimum is not None and len(value) < minimum:
        raise CheckFailed(
            "config", f"{variable} is shorter than {minimum} characters", **where, rule=f"min_length {minimum}"
        )
    allowed = rules.allowed.get(variable)
    if allowed is not None and value not in allowed:
        raise CheckFailed("config", f"{variable} is not one of the allowed values", **where, allowed=allowed)
