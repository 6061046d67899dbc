"""The one exception the sandbox raises at its users."""


class SandboxError(Exception):
    """A sandbox operation failed; the message is one user-facing line."""
