"""Delivery of every trade update as a Standard Webhooks signed POST, off the matching path.

Each trade update is POSTed to every registered URL with ``webhook-id`` (``msg_<execution id>`` for an execution, a
fresh id otherwise), ``webhook-timestamp`` and ``webhook-signature`` (``standardwebhooks``' ``Webhook.sign`` with the
registered ``whsec_`` secret). Like the spec's senders:

* a non-2xx answer or a connection error is retried on the spec's schedule — immediately, then 5 s, 5 min, 30 min,
  2 h, 5 h, 10 h, 14 h, 20 h and 24 h later (about 3 days in all) — with the same ``webhook-id`` and a fresh
  timestamp and signature on every attempt; ``retry_scale`` compresses the schedule for tests (0.001: 5 s -> 5 ms);
* a ``Retry-After`` (seconds) longer than the next scheduled wait is honoured (scaled the same way);
* 410 Gone disables that URL: nothing more is sent to it until it is registered again.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

import httpx
from standardwebhooks import Webhook

from .errors import invalid
from .logs import log

SPEC_RETRY_SCHEDULE_S = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 50400.0, 72000.0, 86400.0)
TIMEOUT_S = 15.0  # the spec: senders wait 15-30 s for an answer


@dataclass(frozen=True)
class Target:
    url: str
    signer: Webhook


def next_wait(attempt: int, retry_after: str | None, scale: float) -> float | None:
    """Seconds to wait before attempt ``attempt`` (0-based) after a failed one, or None once the schedule is spent."""
    if attempt >= len(SPEC_RETRY_SCHEDULE_S):
        return None
    asked = float(retry_after) if retry_after is not None and retry_after.strip().isdigit() else 0.0
    return max(SPEC_RETRY_SCHEDULE_S[attempt], asked) * scale


class WebhookDispatcher:
    def __init__(self, retry_scale: float = 1.0) -> None:
        self.targets: dict[str, Target] = {}
        self.retry_scale = retry_scale
        self._tasks: set[asyncio.Task] = set()
        self._client: httpx.AsyncClient | None = None
        self.delivered = 0

    def add(self, url: object, secret: object) -> dict:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise invalid("url must be an http(s) URL")
        if not isinstance(secret, str) or not secret:
            raise invalid("secret is required (whsec_... base64)")
        try:
            signer = Webhook(secret)
        except Exception:
            raise invalid("secret must be base64, optionally prefixed with whsec_") from None
        self.targets[url] = Target(url, signer)
        return {"url": url, "targets": len(self.targets)}

    def clear(self) -> None:
        self.targets.clear()

    def publish(self, update: dict) -> None:
        """Called from the matcher: schedules deliveries and returns at once."""
        if not self.targets:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        message_id = "msg_" + (update.get("execution_id") or str(uuid.uuid4())).replace("-", "")
        payload = json.dumps(update)
        for target in list(self.targets.values()):
            task = loop.create_task(self._deliver(target, message_id, payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, target: Target, message_id: str, payload: str) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=TIMEOUT_S)
        attempt, wait = 0, next_wait(0, None, self.retry_scale)
        while wait is not None:
            await asyncio.sleep(wait)
            if self.targets.get(target.url) is not target:
                return  # cleared, disabled or registered anew since: this delivery is no longer wanted
            attempt += 1
            retry_after = None
            try:
                response = await self._client.post(target.url, content=payload,
                                                   headers=self._headers(target, message_id, payload))
            except httpx.HTTPError as error:
                log.info("webhook_attempt_failed", url=target.url, webhook_id=message_id, attempt=attempt,
                         error=type(error).__name__)
            else:
                if response.status_code < 300:
                    self.delivered += 1
                    return
                if response.status_code == 410:
                    self.targets.pop(target.url, None)
                    log.warning("webhook_target_gone", url=target.url, webhook_id=message_id)
                    return
                retry_after = response.headers.get("retry-after")
                log.info("webhook_attempt_refused", url=target.url, webhook_id=message_id, attempt=attempt,
                         status=response.status_code)
            wait = next_wait(attempt, retry_after, self.retry_scale)
        log.warning("webhook_given_up", url=target.url, webhook_id=message_id, attempts=attempt)

    @staticmethod
    def _headers(target: Target, message_id: str, payload: str) -> dict[str, str]:
        now = datetime.now(timezone.utc)
        return {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": target.signer.sign(message_id, now, payload),
        }

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
