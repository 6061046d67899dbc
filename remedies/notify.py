"""Notifications of new incidents through apprise: Telegram as the owners' workflows do, and any other channel.

Configured by the environment:

- ``TELEGRAM_BOT_TOKEN`` + ``TELEGRAM_CHAT_ID`` (the seed documents' secrets): a
  Telegram message; ``TELEGRAM_API_URL`` replaces ``https://api.telegram.org``
  (a proxy, or a local fake in tests);
- ``TSH_NOTIFY_URLS``: apprise URLs separated by spaces (``mailto://...``,
  ``slack://...``, ``json://host/path``...).

One message per incident opened in this run (per remaining root cause when no
incident tracker is configured). The text is redacted before it leaves;
sending runs under a total deadline, and a channel that fails is recorded.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

SEND_DEADLINE_SECONDS = 30.0
REQUEST_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Channels:
    urls: tuple[str, ...]
    telegram_api_url: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Channels | None:
        urls = [url for url in environ.get("TSH_NOTIFY_URLS", "").split() if url]
        token, chat = environ.get("TELEGRAM_BOT_TOKEN", ""), environ.get("TELEGRAM_CHAT_ID", "")
        if token and chat:
            urls.insert(0, f"tgram://{token}/{chat}/")
        if not urls:
            return None
        return cls(tuple(urls), (environ.get("TELEGRAM_API_URL") or "").rstrip("/") or None)


def send_notifications(channels: Channels, messages: list[tuple[str, str]], redact: Callable[[str], str]) -> list[str]:
    """Send each (title, body) to every channel; returns one line per problem (never raises)."""
    with warnings.catch_warnings():  # apprise's e-mail plugin imports the stdlib's deprecated imghdr
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise  # imported only when a run notifies: apprise loads all its plugins
        apprise.Apprise.instantiate("json://127.0.0.1/", suppress_exceptions=True)  # loads every plugin now

    problems: list[str] = []
    notifier = apprise.Apprise()
    for index, url in enumerate(channels.urls):
        service = apprise.Apprise.instantiate(url, suppress_exceptions=True)
        if service is None:
            problems.append(f"notification channel {index + 1} (TELEGRAM_*, TSH_NOTIFY_URLS): not an apprise URL")
            continue
        service.socket_read_timeout = REQUEST_TIMEOUT_SECONDS
        service.socket_connect_timeout = REQUEST_TIMEOUT_SECONDS
        if channels.telegram_api_url and url.startswith("tgram://"):
            service.notify_url = f"{channels.telegram_api_url}/bot"
        notifier.add(service)
    if not len(notifier):
        return problems
    results: list[bool] = []

    def deliver() -> None:
        for title, body in messages:
            results.append(bool(notifier.notify(title=redact(title), body=redact(body))))

    worker = threading.Thread(target=deliver, name="tsh-notify", daemon=True)
    worker.start()
    worker.join(SEND_DEADLINE_SECONDS)
    if worker.is_alive():
        problems.append(f"notifications: not all sent within {SEND_DEADLINE_SECONDS:g} s")
    failed = results.count(False)
    if failed:
        problems.append(f"notifications: {failed} of {len(messages)} messages were not delivered to every channel")
    return problems
