"""Hostile HTTP servers on 127.0.0.1 for the bounded-I/O tests: each misbehaves in one way, within bounds.

- :func:`trickle`: answers every request one byte a second (a 200 status line and headers, then a body);
- :func:`black_hole`: accepts every connection and never sends a byte;
- :func:`huge_body`: answers 200 with a body of ``size`` bytes, generated chunk by chunk as the
  client reads (never held in memory), stopping when the client goes away.

:func:`target_with_app_at` writes the sandbox's inventory as a staging target whose app answers
at such a server's URL (the database, Zoho and env file stay the sandbox's).

Every server runs only inside its ``with`` block: leaving it closes the listening socket and
every connection, and joins every thread. ``requests`` counts the connections it accepted.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fixtures.inventory import PROJECT_ROOT

JOIN_SECONDS = 5.0
CHUNK = 64 * 1024


@dataclass
class HostileServer:
    url: str
    stop: threading.Event
    accepted: int = 0
    connections: list[socket.socket] = field(default_factory=list)


# (connection, the request head as received, the stop event)
Handler = Callable[[socket.socket, bytes, threading.Event], None]


@contextmanager
def serve(handler: Handler) -> Iterator[HostileServer]:
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    listener.settimeout(0.2)
    server = HostileServer(f"http://127.0.0.1:{listener.getsockname()[1]}", threading.Event())
    threads: list[threading.Thread] = []

    def accept_loop() -> None:
        while not server.stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server.accepted += 1
            server.connections.append(connection)
            thread = threading.Thread(target=_handle, args=(handler, connection, server.stop), daemon=True)
            threads.append(thread)
            thread.start()

    acceptor = threading.Thread(target=accept_loop, daemon=True)
    acceptor.start()
    try:
        yield server
    finally:
        server.stop.set()
        listener.close()
        for connection in server.connections:
            connection.close()
        for thread in [acceptor, *threads]:
            thread.join(JOIN_SECONDS)


def _handle(handler: Handler, connection: socket.socket, stop: threading.Event) -> None:
    with contextlib.suppress(OSError):  # the client went away, or the server is stopping
        handler(connection, _read_request_head(connection, stop), stop)


def _read_request_head(connection: socket.socket, stop: threading.Event) -> bytes:
    connection.settimeout(0.2)
    received = b""
    while b"\r\n\r\n" not in received and not stop.is_set():
        try:
            chunk = connection.recv(4096)
        except TimeoutError:
            continue
        if not chunk:
            break
        received += chunk
    return received


def _trickle(connection: socket.socket, request: bytes, stop: threading.Event) -> None:
    body = b'{"status": "healthy"}'
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    for byte in answer:
        if stop.wait(1.0):
            return
        connection.sendall(bytes([byte]))


def _black_hole(connection: socket.socket, request: bytes, stop: threading.Event) -> None:
    stop.wait()


def _huge_body(size: int) -> Handler:
    def answer(connection: socket.socket, request: bytes, stop: threading.Event) -> None:
        connection.settimeout(5.0)
        connection.sendall(
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n".encode()
        )
        chunk = b"[" + b"0," * (CHUNK // 2 - 1) + b"0"
        sent = 0
        while sent < size and not stop.is_set():
            part = chunk[: size - sent]
            connection.sendall(part)
            sent += len(part)

    return answer


def trickle():
    """Every answer one byte a second."""
    return serve(_trickle)


def black_hole():
    """Connections accepted, never answered."""
    return serve(_black_hole)


def huge_body(size: int):
    """Every answer a 200 with a ``size``-byte body, generated as it is read."""
    return serve(_huge_body(size))


def target_with_app_at(url: str, directory: Path) -> Path:
    """The sandbox's inventory as a staging target named ``hostile`` whose app answers at ``url``."""
    text = (PROJECT_ROOT / "targets" / "sandbox.toml").read_text(encoding="utf-8")
    text = text.replace('name = "sandbox"\nkind = "sandbox"', 'name = "hostile"\nkind = "staging"')
    text = text.replace('"${TSH_SANDBOX_BASE_URL}"', f'"{url}"')
    path = directory / "hostile.toml"
    path.write_text(text, encoding="utf-8")
    return path
