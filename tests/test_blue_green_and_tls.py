"""Blue/green behind the sandbox's real nginx, TLS and the public URLs, in the whole production stage.

The production stage runs the shipped ``targets/production.toml`` with its base URL on the
sandbox's nginx (HTTPS, the sandbox CA passed as ``PRODUCTION_CA_FILE``): the healthy sandbox
passes and writes nothing; each front fault fails exactly its checks, with kind, recipe and
root cause; a stopped active slot is rolled back by H17 only when approved.
"""

from __future__ import annotations

import json

import pytest

EXPLORE = pytest.mark.parametrize("fault", ["slot-down:blue", "slot-down:green", "slot-mismatch", "cert-expiring:3", "cert-expiring:30"])


@EXPLORE
def test_explore(production, healthy_sandbox, fault):
    healthy_sandbox.apply_fault(fault)
    run = production()
    print(fault, run.exit_code)
    print(json.dumps(run.outcomes(), indent=1))
    for f in run.findings["failures"]:
        if f["root_cause"] is None:
            print(f["nodeid"], f["evidence"])
