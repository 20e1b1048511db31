"""Delivery of every trade update as a Standard Webhooks signed POST, off the matching path."""

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

RETRY_DELAYS = (0.0, 0.5, 2.0, 5.0)


@dataclass(frozen=True)
class Target:
    url: str
    signer: Webhook


class WebhookDispatcher:
    def __init__(self) -> None:
        self.targets: dict[str, Target] = {}
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
            self._client = httpx.AsyncClient(timeout=5.0)
        for delay in RETRY_DELAYS:
            await asyncio.sleep(delay)
            now = datetime.now(timezone.utc)
            headers = {
                "content-type": "application/json",
                "webhook-id": message_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": target.signer.sign(message_id, now, payload),
            }
            try:
                response = await self._client.post(target.url, content=payload, headers=headers)
                if response.status_code < 300:
                    self.delivered += 1
                    return
            except httpx.HTTPError as error:
                log.info("webhook_attempt_failed", url=target.url, webhook_id=message_id, error=type(error).__name__)
        log.warning("webhook_given_up", url=target.url, webhook_id=message_id, attempts=len(RETRY_DELAYS))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
