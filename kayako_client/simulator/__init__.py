"""A Kayako-compatible server (API v1 subset) for demos and tests: aiohttp + SQLite + faults.

`start_simulator(...)` returns a running `SimulatorHandle` (its `.url`, `.stop()`,
`.set_faults(...)`, `.stop_listener()` / `.start_listener()` for a real "connection refused"
outage). See kayako-api.md §8 for the behaviours it reproduces.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from aiohttp import web

from kayako_client.simulator.app import SimApi, build_app
from kayako_client.simulator.faults import Faults
from kayako_client.simulator.store import SimStore

__all__ = ["Faults", "SimStore", "SimulatorHandle", "start_simulator"]


class SimulatorHandle:
    """A running simulator; stop it with `await handle.stop()`."""

    def __init__(
        self,
        runner: web.AppRunner,
        api: SimApi,
        host: str,
        port: int,
        email: str,
        password: str,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._runner = runner
        self._site: web.TCPSite | None = None
        self.api = api
        self.store = api.store
        self.faults = api.faults
        self.host = host
        self.port = port
        self.agent_email = email
        self.agent_password = password
        self._outage_task: asyncio.Task[None] | None = None
        self._ssl = ssl_context

    @property
    def url(self) -> str:
        return f"{'https' if self._ssl else 'http'}://{self.host}:{self.port}"

    async def start_listener(self) -> None:
        if self._site is not None:
            return
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True, ssl_context=self._ssl)
        await site.start()
        server = site._server  # the bound port when 0 was asked for
        if self.port == 0 and server is not None and getattr(server, "sockets", None):
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._site = site

    async def stop_listener(self) -> None:
        """Close the listening socket: clients get "connection refused" until start_listener()."""
        if self._site is not None:
            site, self._site = self._site, None
            await site.stop()
        server = self._runner.server
        for conn in server.connections if server is not None else []:  # kept-alive ones too
            if conn.transport is not None:
                conn.transport.close()

    async def outage(self, seconds: float) -> None:
        """Refuse connections now and listen again after `seconds` (in the background)."""
        await self.stop_listener()

        async def back() -> None:
            await asyncio.sleep(seconds)
            await self.start_listener()

        self._outage_task = asyncio.get_running_loop().create_task(back())

    async def wait_outage_over(self) -> None:
        if self._outage_task is not None:
            await self._outage_task

    def set_faults(self, **changes: Any) -> None:
        self.faults.update(changes)

    def clear_faults(self) -> None:
        self.faults.update({k: v for k, v in Faults().as_dict().items() if k != "down_now"})

    def expire_sessions(self) -> int:
        return self.store.drop_sessions()

    async def stop(self) -> None:
        if self._outage_task is not None and not self._outage_task.done():
            self._outage_task.cancel()
        await self._runner.cleanup()
        self.store.db.close()


async def start_simulator(
    articles_path: str | None,
    host: str = "127.0.0.1",
    port: int = 0,
    agent_email: str = "agent@northwind.example",
    agent_password: str = "northwind",
    database: str = ":memory:",
    faults: Faults | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> SimulatorHandle:
    """Seed a store, start the HTTP server and return its handle (port 0: pick a free one)."""
    store = SimStore(database)
    store.ensure_agent(agent_email, agent_password)
    store.seed_articles(articles_path)
    app, api = build_app(store, faults or Faults())
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    handle = SimulatorHandle(runner, api, host, port, agent_email, agent_password, ssl_context)
    await handle.start_listener()
    return handle
