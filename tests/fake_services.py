"""Loopback fakes of the services incidents talk to: GitHub's issues REST API and a notification receiver.

:func:`fake_github` serves the part of the REST API the incident tracker uses
(list open issues by label, create, comment, close) for one repository, keeps
the issues in memory and records every request (method, path, headers, body).
:func:`fake_receiver` accepts any POST (Telegram's ``/bot<token>/sendMessage``
and apprise's ``json://``) and records it. Both listen on 127.0.0.1 only and
stop when their ``with`` block ends.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeService:
    url: str
    requests: list[Recorded] = field(default_factory=list)
    issues: dict[int, dict] = field(default_factory=dict)
    comments: dict[int, list[str]] = field(default_factory=dict)

    def bodies(self) -> bytes:
        return b"\n".join(request.body for request in self.requests)


@contextmanager
def _serve(handler_class: type[BaseHTTPRequestHandler]) -> Iterator[FakeService]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    service = FakeService(f"http://127.0.0.1:{server.server_address[1]}")
    server.service = service  # type: ignore[attr-defined] -- what the handlers record into
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class _Recording(BaseHTTPRequestHandler):
    def log_message(self, format, *args) -> None:
        pass

    @property
    def service(self) -> FakeService:
        return self.server.service  # type: ignore[attr-defined]

    def _record(self) -> Recorded:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        recorded = Recorded(self.command, self.path, dict(self.headers), body)
        self.service.requests.append(recorded)
        return recorded

    def _answer(self, status: int, document) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _GitHub(_Recording):
    repository = "tsh/erp"
    token = ""

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            self._answer(401, {"message": "Bad credentials"})
            return False
        return True

    def do_GET(self) -> None:
        self._record()
        if not self._authorized():
            return
        url = urlsplit(self.path)
        if url.path != f"/repos/{self.repository}/issues":
            self._answer(404, {"message": "Not Found"})
            return
        query = parse_qs(url.query)
        label = query.get("labels", [""])[0]
        state = query.get("state", ["open"])[0]
        page, per_page = int(query.get("page", ["1"])[0]), int(query.get("per_page", ["30"])[0])
        chosen = [
            issue for number, issue in sorted(self.service.issues.items())
            if issue["state"] == state and (not label or label in issue["labels"])
        ]  # fmt: skip
        self._answer(200, chosen[(page - 1) * per_page : page * per_page])

    def do_POST(self) -> None:
        recorded = self._record()
        if not self._authorized():
            return
        payload = json.loads(recorded.body)
        base = f"/repos/{self.repository}/issues"
        if self.path == base:
            number = len(self.service.issues) + 1
            issue = {"number": number, "title": payload["title"], "body": payload["body"],
                     "labels": list(payload.get("labels", [])), "state": "open"}  # fmt: skip
            self.service.issues[number] = issue
            self._answer(201, issue)
        elif self.path.startswith(base + "/") and self.path.endswith("/comments"):
            number = int(self.path.split("/")[-2])
            self.service.comments.setdefault(number, []).append(payload["body"])
            self._answer(201, {"id": len(self.service.comments[number]), "body": payload["body"]})
        else:
            self._answer(404, {"message": "Not Found"})

    def do_PATCH(self) -> None:
        recorded = self._record()
        if not self._authorized():
            return
        number = int(self.path.rsplit("/", 1)[-1])
        issue = self.service.issues[number]
        issue["state"] = json.loads(recorded.body)["state"]
        self._answer(200, issue)


class _Receiver(_Recording):

    def do_POST(self) -> None:
        self._record()
        self._answer(200, {"ok": True, "result": {"message_id": len(self.service.requests)}})


@contextmanager
def fake_github(token: str, repository: str = "tsh/erp") -> Iterator[FakeService]:
    handler = type("GitHub", (_GitHub,), {"token": token, "repository": repository})
    with _serve(handler) as service:
        yield service


@contextmanager
def fake_receiver() -> Iterator[FakeService]:
    with _serve(_Receiver) as service:
        yield service
