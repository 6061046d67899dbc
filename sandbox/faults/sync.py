"""Flag faults the sync worker acts out (sandbox/worker.py): the events of one entity fail upstream.

``worker-failing:<entity>`` takes a webhook route name, as the webhook faults
do; the worker fails the queue rows of that route's TDS entity (``invoices``:
``invoice``, ``vendors``: ``VENDOR``).
"""

from __future__ import annotations

from .base import FlagFault
from .webhook import ROUTE_NAMES

KINDS = (
    FlagFault(
        name="worker-failing",
        summary="the worker keeps polling, but every event of the entity fails upstream until dead-lettered",
        arguments=ROUTE_NAMES,
    ),
)
