"""The sandbox's public front: Debian's nginx with TLS before two app slots, blue and green.

As on the real production server, nginx is the only public entry point: HTTPS on one
port (a certificate issued by the sandbox's own CA, valid for a number of days set per
run), HTTP on another that answers 301 to HTTPS, HSTS on every HTTPS answer. Its
upstream is the active slot: blue (the sandbox's ``app`` service) or green (a second
uvicorn of the same app). Each slot names itself in the ``X-TSH-Slot`` response header.
The active slot is written twice, as the real deploy script does: in the nginx site
file's upstream, and as ``ACTIVE_DEPLOYMENT_SLOT`` in the deploy directory's env file.

Everything lives in ``<home>/front``::

    nginx.conf     the main configuration (pid file, logs and temp paths under front/)
    site.conf      the site: upstream tsh_erp_active + the HTTPS and HTTP servers (what switch-slot rewrites)
    ca.pem         the sandbox CA (what the suite trusts explicitly)
    server.pem     the server certificate (127.0.0.1, localhost), server.key its key (0600)
    nginx.pid      the master's pid
    logs/          error.log, access.log
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import shutil
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .errors import SandboxError
from .facts import LOOPBACK
from .processes import ProcessRecord, spawn, wait_until

NGINX = Path(shutil.which("nginx") or "/usr/sbin/nginx")
SLOTS = ("blue", "green")
DEFAULT_SLOT = "blue"
CERT_DAYS = 90
UPSTREAM = "tsh_erp_active"
SLOT_HEADER = "X-TSH-Slot"
HSTS = "max-age=31536000; includeSubDomains"
NGINX_TIMEOUT_SECONDS = 10.0
_UPSTREAM_SERVER = re.compile(r"upstream\s+" + UPSTREAM + r"\s*\{\s*server\s+([0-9.]+):(\d+)\s*;", re.MULTILINE)


class Front:
    """The nginx front of one sandbox home; ``slot_ports`` maps blue/green to their app ports."""

    def __init__(self, home: Path, *, https_port: int, http_port: int, slot_ports: dict[str, int]) -> None:
        self.dir = Path(home) / "front"
        self.https_port = https_port
        self.http_port = http_port
        self.slot_ports = dict(slot_ports)

    # -- files ----------------------------------------------------------------

    @property
    def conf_file(self) -> Path:
        return self.dir / "nginx.conf"

    @property
    def site_file(self) -> Path:
        return self.dir / "site.conf"

    @property
    def ca_file(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def cert_file(self) -> Path:
        return self.dir / "server.pem"

    @property
    def key_file(self) -> Path:
        return self.dir / "server.key"

    @property
    def pid_file(self) -> Path:
        return self.dir / "nginx.pid"

    @property
    def public_url(self) -> str:
        return f"https://{LOOPBACK}:{self.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    def slot_url(self, slot: str) -> str:
        return f"http://{LOOPBACK}:{self.slot_ports[slot]}"

    # -- set-up -----------------------------------------------------------------

    def prepare(self) -> None:
        """Create the directory, the CA, a fresh server certificate, nginx.conf and a site file naming blue."""
        (self.dir / "logs").mkdir(parents=True, exist_ok=True)
        (self.dir / "temp").mkdir(exist_ok=True)
        if not self.ca_file.exists():
            _write_ca(self.dir)
        self.issue_certificate(CERT_DAYS)
        self.conf_file.write_text(self._main_conf(), encoding="utf-8")
        self.write_site(DEFAULT_SLOT)

    def issue_certificate(self, days: int) -> None:
        """A new server certificate from the sandbox CA, valid from an hour ago for ``days`` days."""
        ca_key = serialization.load_pem_private_key((self.dir / "ca.key").read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        cert = (
            _certificate_builder(name, ca_cert.subject, key, days)
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(self.key_file, _key_pem(key))
        self.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def certificate_days_left(self) -> float:
        cert = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        return (cert.not_valid_after_utc - dt.datetime.now(dt.UTC)).total_seconds() / 86400

    def write_site(self, slot: str) -> None:
        """The site file with ``slot`` as the upstream (written whole, replaced in one step)."""
        check_slot(slot)
        temporary = self.site_file.with_suffix(".tmp")
        temporary.write_text(self._site_conf(slot), encoding="utf-8")
        os.replace(temporary, self.site_file)

    def site_slot(self) -> str | None:
        """The slot the site file's upstream names (by its port), or None."""
        match = _UPSTREAM_SERVER.search(self.site_file.read_text(encoding="utf-8"))
        if match is None:
            return None
        port = int(match.group(2))
        return next((slot for slot, slot_port in self.slot_ports.items() if slot_port == port), None)

    # -- nginx ------------------------------------------------------------------

    def command(self, *arguments: str) -> list[str]:
        return [str(NGINX), "-p", str(self.dir), "-c", str(self.conf_file), "-e", str(self.dir / "logs/error.log"),
                *arguments]  # fmt: skip

    def start(self, log_file: Path) -> ProcessRecord:
        self.test_configuration()
        return spawn(self.command("-g", "daemon off;"), log_file=log_file, env=dict(os.environ), cwd=self.dir)

    def is_ready(self, record: ProcessRecord) -> bool:
        return bool(_worker_pids(record.pid)) and self.pid_file.exists()

    def test_configuration(self) -> None:
        """``nginx -t`` on the sandbox's configuration; SandboxError with its message when it fails."""
        self._run("-t")

    def reload(self, record: ProcessRecord | None) -> None:
        """``nginx -t`` then ``nginx -s reload``; returns once the old workers are gone and new ones serve."""
        self.test_configuration()
        if record is None or not record.is_alive():
            return
        before = _worker_pids(record.pid)
        self._run("-s", "reload")
        if not wait_until(
            lambda: (now := _worker_pids(record.pid)) and not (now & before), timeout=NGINX_TIMEOUT_SECONDS
        ):
            raise SandboxError(f"nginx did not reload within {NGINX_TIMEOUT_SECONDS:g} s; see {self.dir / 'logs'}")

    def _run(self, *arguments: str) -> None:
        try:
            completed = subprocess.run(
                self.command(*arguments), capture_output=True, text=True, timeout=NGINX_TIMEOUT_SECONDS, check=False
            )
        except (OSError, subprocess.SubprocessError) as error:
            raise SandboxError(f"nginx {' '.join(arguments)} could not run: {error}") from None
        if completed.returncode != 0:
            lines = [line for line in completed.stderr.splitlines() if "[emerg]" in line or "failed" in line]
            raise SandboxError(f"nginx {' '.join(arguments)} failed: {(lines or [completed.stderr.strip()])[-1]}")

    # -- configuration text -----------------------------------------------------------

    def _main_conf(self) -> str:
        user = "user root root;\n" if os.geteuid() == 0 else ""
        temp = self.dir / "temp"
        return f"""# TSH ERP sandbox front (written by the sandbox)
{user}worker_processes 1;
pid {self.pid_file};
error_log {self.dir / "logs/error.log"} warn;
events {{ worker_connections 256; }}
http {{
    access_log {self.dir / "logs/access.log"};
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    default_type application/octet-stream;
    server_tokens off;
    include {self.site_file};
}}
"""

    def _site_conf(self, slot: str) -> str:
        return f"""# TSH ERP site: the active blue/green slot is the upstream (switch-slot rewrites it)
upstream {UPSTREAM} {{
    server {LOOPBACK}:{self.slot_ports[slot]};
}}

server {{
    listen {LOOPBACK}:{self.https_port} ssl;
    server_name localhost;
    ssl_certificate {self.cert_file};
    ssl_certificate_key {self.key_file};
    ssl_protocols TLSv1.2 TLSv1.3;
    add_header Strict-Transport-Security "{HSTS}" always;
    client_max_body_size 20m;
    location / {{
        proxy_pass http://{UPSTREAM};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-Proto https;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_connect_timeout 2s;
        proxy_read_timeout 300s;
    }}
}}

server {{
    listen {LOOPBACK}:{self.http_port};
    server_name localhost;
    return 301 https://$host:{self.https_port}$request_uri;
}}
"""


def check_slot(slot: str) -> str:
    if slot not in SLOTS:
        raise SandboxError(f"unknown slot {slot!r}; slots: {', '.join(SLOTS)}")
    return slot


def _worker_pids(master: int) -> set[int]:
    """The pids whose parent is ``master`` (nginx's workers)."""
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[1] == str(master) and fields[0] not in ("Z", "X"):
            children.add(int(entry.name))
    return children


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "wb") as stream:
        stream.write(data)


def _certificate_builder(subject: x509.Name, issuer: x509.Name, key, days: int) -> x509.CertificateBuilder:
    """A certificate of ``key`` for ``subject`` by ``issuer``, valid from an hour ago for ``days`` days."""
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
    )


def _write_ca(directory: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TSH ERP sandbox CA")])
    cert = (
        _certificate_builder(name, name, key, 3650)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(directory / "ca.key", _key_pem(key))
    (directory / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
