"""The embedded TSH ERP sandbox: PostgreSQL, the ERP app and the sync worker on 127.0.0.1.

Start one with ``Sandbox.start(home, db_password=...)`` or ``python -m sandbox up``;
attach to a running one with ``Sandbox.attach(state_file)``.
"""

from .controller import Sandbox, default_home
from .errors import SandboxError
from .faults import FAULT_NAMES

__all__ = ["FAULT_NAMES", "Sandbox", "SandboxError", "default_home"]
