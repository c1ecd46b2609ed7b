"""Event routing: delivers each ARI event to the call that owns the channel it mentions.

Owns the table `id -> sinks` (a sink is an `asyncio.Queue` or a callable), one-shot
expectations (`expect("StasisStart", channel_id)`), and the fallback for new channels
(`on_stasis_start`). Ordering: a queue sink gets events in WebSocket order; a callable sink is
called synchronously in that order (if it returns an awaitable, that is scheduled as a task and
its order against later events is not guaranteed, so prefer queues).

Facts: an event mentions channels through `channel`, `peer`/`caller` (Dial),
`replace_channel` (StasisStart) and `playback.target_uri` (`channel:<id>`); channel ids are
unique per Asterisk (`<epoch>.<n>` or the id the app chose), so one table serves channels,
bridges and playbacks. A StasisStart nobody subscribed to or expected is a new call.
Events of types we do not model (`UnknownEvent`) are logged at debug level and dropped.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

from ari_app.ari.models import AriEvent, StasisStart, UnknownEvent
from ari_app.logs import log_event

logger = logging.getLogger(__name__)

EventSink = asyncio.Queue[AriEvent] | Callable[[AriEvent], Any]
StasisStartCallback = Callable[[StasisStart], Any]


class EventRouter:
    def __init__(self) -> None:
        self._sinks: dict[str, list[EventSink]] = {}
        self._expected: list[tuple[str, str, asyncio.Future[AriEvent]]] = []
        self.on_stasis_start: StasisStartCallback | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.unrouted = 0

    def subscribe(self, channel_id: str, sink: EventSink) -> None:
        """Route events that mention `channel_id` (or a bridge/playback id) to `sink`."""
        sinks = self._sinks.setdefault(channel_id, [])
        if not any(s is sink for s in sinks):
            sinks.append(sink)

    def unsubscribe(self, channel_id: str, sink: EventSink | None = None) -> None:
        """Stop routing for `channel_id` (for one sink, or all of them)."""
        if sink is None:
            self._sinks.pop(channel_id, None)
            return
        sinks = [s for s in self._sinks.get(channel_id, []) if s is not sink]
        if sinks:
            self._sinks[channel_id] = sinks
        else:
            self._sinks.pop(channel_id, None)

    def subscribed(self, channel_id: str) -> bool:
        return channel_id in self._sinks

    def expect(self, event_type: str, channel_id: str) -> asyncio.Future[AriEvent]:
        """A future resolved by the next `event_type` event mentioning `channel_id`.

        Register it before the request that causes the event (e.g. before externalMedia), then
        `await asyncio.wait_for(future, timeout)`. The event is also routed normally.
        """
        future: asyncio.Future[AriEvent] = asyncio.get_running_loop().create_future()
        self._expected.append((event_type, channel_id, future))
        return future

    def dispatch(self, event: AriEvent) -> None:
        """Deliver one event; never raises (a failing sink is logged)."""
        if isinstance(event, UnknownEvent):
            log_event(logger, "ari event not modelled, ignored", logging.DEBUG, event_type=event.type)
            return
        ids = event.channel_ids()
        expected = False
        keep: list[tuple[str, str, asyncio.Future[AriEvent]]] = []
        for kind, channel_id, future in self._expected:
            if future.done():
                continue
            if kind == event.type and channel_id in ids:
                future.set_result(event)
                expected = True
            else:
                keep.append((kind, channel_id, future))
        self._expected = keep
        delivered: list[EventSink] = []
        for channel_id in ids:
            for sink in self._sinks.get(channel_id, []):
                if any(s is sink for s in delivered):
                    continue
                delivered.append(sink)
                self._deliver(sink, event, channel_id)
        if isinstance(event, StasisStart) and not delivered and not expected:
            callback = self.on_stasis_start
            if callback is None:
                log_event(logger, "StasisStart with no handler", logging.WARNING, call_id=event.channel.id)
            else:
                self._call(callback, event, event.channel.id)
            return
        if not delivered and not expected:
            self.unrouted += 1
            log_event(
                logger, "ari event for no subscriber", logging.DEBUG, event_type=event.type, ids=list(ids)
            )

    def _deliver(self, sink: EventSink, event: AriEvent, channel_id: str) -> None:
        if isinstance(sink, asyncio.Queue):
            try:
                sink.put_nowait(event)
            except asyncio.QueueFull:
                log_event(
                    logger,
                    "event queue full, event dropped",
                    logging.ERROR,
                    call_id=channel_id,
                    event_type=event.type,
                )
            return
        self._call(sink, event, channel_id)

    def _call(self, fn: Callable[[Any], Any], event: AriEvent, channel_id: str) -> None:
        try:
            result = fn(event)
        except Exception:
            logger.exception("event callback failed", extra={"call_id": channel_id, "event_type": event.type})
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(lambda t: self._task_done(t, channel_id, event.type))

    def _task_done(
        self, task: asyncio.Task[Any] | asyncio.Future[Any], channel_id: str, event_type: str
    ) -> None:
        self._tasks.discard(task)  # type: ignore[arg-type]
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            logger.error(
                "event callback task failed",
                exc_info=exc,
                extra={"call_id": channel_id, "event_type": event_type},
            )

    def cancel_all(self) -> None:
        """Fail pending expectations and cancel callback tasks (client shutdown)."""
        for _, _, future in self._expected:
            if not future.done():
                future.cancel()
        self._expected.clear()
        for task in list(self._tasks):
            task.cancel()
