"""Wires the suite's plugins; the one place they are registered."""

pytest_plugins = [
    "fixtures.target",
    "fixtures.reporting",
    "fixtures.http",
    "fixtures.webhooks",
    "remedies.plugin",
]
