"""external: each public URL as the world sees it: status and latency, its TLS certificate (trusted chain, more
than ``min_days_left`` days left), HSTS; and plain HTTP redirecting to HTTPS.

The chain is verified against ``[http] ca_file`` when set (the sandbox's CA), else the system's trust store.
"""

from __future__ import annotations

import pytest

from fixtures.failures import CheckFailed
from fixtures.http import send
from fixtures.target import target_inventory
from fixtures.tls import HandshakeFailed, inspect_certificate

pytestmark = [pytest.mark.production, pytest.mark.external]


def _urls(inventory):
    return inventory.external.urls if inventory.external else {}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "public_url" not in metafunc.fixturenames:
        return
    inventory = target_inventory(metafunc.config)
    names = list(_urls(inventory)) if inventory is not None else []
    metafunc.parametrize("public_url", names, ids=names)


@pytest.fixture
def external(inventory):
    if inventory.external is None:
        pytest.skip("no public URLs configured ([external])")
    return inventory.external


def _certificate(inventory, url: str):
    __tracebackhide__ = True
    try:
        return inspect_certificate(url, ca_file=inventory.http.ca_file, timeout=inventory.http.timeout_seconds)
    except HandshakeFailed as error:
        kind = "timeout" if error.timed_out else "unreachable"
        raise CheckFailed(kind, str(error), url=url) from None


def test_public_url_answers(public_url, external, http_client):
    url = external.urls[public_url]
    exchange = send(http_client, "GET", url, whole_body=False)
    if not 200 <= exchange.status < 400:
        raise CheckFailed(
            "http_status", f"GET {url}: expected 2xx or 3xx, got {exchange.status}", **exchange.evidence()
        )
    if exchange.latency_ms > external.max_latency_ms:
        raise CheckFailed("slow", f"GET {url}: {exchange.latency_ms:.0f} ms, above {external.max_latency_ms:g} ms",
                          limit_ms=external.max_latency_ms, **exchange.evidence())  # fmt: skip


def test_certificate_has_enough_days_left(public_url, external, inventory):
    url = external.urls[public_url]
    certificate = _certificate(inventory, url)
    days_left = certificate.days_left()
    if days_left <= external.min_days_left:
        expired = "has expired" if days_left < 0 else f"expires in {days_left:.1f} days"
        title = f"the certificate of {url} {expired} (limit: more than {external.min_days_left:g})"
        raise CheckFailed("expiring", title, min_days_left=external.min_days_left, **certificate.evidence())


def test_certificate_chain_is_trusted(public_url, external, inventory):
    url = external.urls[public_url]
    certificate = _certificate(inventory, url)
    if not certificate.trusted:
        raise CheckFailed("security", f"the certificate chain of {url} is not trusted: {certificate.verify_error}",
                          verify_error=certificate.verify_error, ca_file=inventory.http.ca_file or "(system store)",
                          **certificate.evidence())  # fmt: skip


def test_hsts_is_sent(public_url, external, http_client):
    url = external.urls[public_url]
    exchange = send(http_client, "GET", url, whole_body=False)
    header = exchange.headers.get("Strict-Transport-Security", "")
    max_age = next(
        (part.split("=", 1)[1].strip() for part in header.split(";") if part.strip().startswith("max-age=")), ""
    )
    if not max_age.isdigit() or int(max_age) <= 0:
        raise CheckFailed("security", f"GET {url}: no Strict-Transport-Security with a positive max-age",
                          strict_transport_security=header or None, url=url, status=exchange.status)  # fmt: skip


def test_http_redirects_to_https(external, http_client):
    if not external.http_url:
        pytest.skip("no plain HTTP URL configured ([external] http_url)")
    url = external.http_url
    exchange = send(http_client, "GET", url, whole_body=False)
    location = exchange.headers.get("Location", "")
    if exchange.status not in (301, 308) or not location.startswith("https://"):
        raise CheckFailed("contract", f"GET {url}: expected a permanent redirect to https://, got {exchange.status}",
                          location=location or None, **exchange.evidence())  # fmt: skip
