"""Run one job on an nst service over its WebSocket: the one Python client of protocol v2.

`nst client`, the benchmark and the tests all call `run_job`; what they show is up to their
`on_message`. Connecting may raise websockets' InvalidURI or InvalidStatus, or OSError.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from . import protocol
from .protocol import Accepted, Attach, Cancel, Done, Error, Start

CANCEL_WAIT_S = 60.0
REATTACH_ATTEMPTS = 3
REATTACH_PAUSE_S = 1.0


class ConnectionLost(Exception):
    """The service closed the connection before the job ended."""


def run_job(url: str, start: Start, on_message: Callable[[object], None] = lambda message: None,
            *, token: str | None = None, timeout_s: float | None = None) -> Done | Error:
    """Send `start`, pass every server message (validated) to `on_message`, and return the last
    one: `done`, or the `error` that ended the job.

    When the connection drops after `accepted`, the job runs on in the service: this connects
    again and attaches to it (up to REATTACH_ATTEMPTS times), so `on_message` sees one `accepted`
    and the frames go on. Ctrl+C sends `cancel` and waits (briefly) for the service to confirm
    before it propagates. TimeoutError when `timeout_s` passes first; ConnectionLost when the
    connection closes before `accepted`, or stays lost.
    """
    headers = {"Authorization": f"Bearer {token}"} if token else None
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    accepted: list[Accepted] = []

    def seen(message: object) -> None:
        if isinstance(message, Accepted):
            if accepted:
                return  # the repeat an `attach` begins with
            accepted.append(message)
        on_message(message)

    request = start.model_dump_json(exclude_none=True)
    for attempt in range(REATTACH_ATTEMPTS + 1):
        if attempt:
            time.sleep(REATTACH_PAUSE_S)
            request = Attach(type="attach", job_id=accepted[0].job_id,
                             resume_token=accepted[0].resume_token).model_dump_json()
        try:
            return _session(url, headers, request, seen, deadline)
        except ConnectionClosed as closed:
            lost = f"code {closed.rcvd.code if closed.rcvd else 'none'}"
        except (OSError, InvalidStatus) as error:
            if not attempt:
                raise
            lost = f"reconnecting failed: {error}"
        if not accepted:
            break
    raise ConnectionLost(f"the service closed the connection before the job was done ({lost})")


def _session(url: str, headers: dict | None, request: str, seen: Callable[[object], None],
             deadline: float | None) -> Done | Error:
    """One connection: send `request` (`start` or `attach`), follow the job to its end."""
    with connect(url, additional_headers=headers, max_size=None, open_timeout=15,
                 user_agent_header="nst-client") as websocket:
        try:
            websocket.send(request)
            return _follow(websocket, seen, deadline)
        except KeyboardInterrupt:
            _cancel(websocket)
            raise


def _follow(websocket: ClientConnection, on_message: Callable[[object], None],
            deadline: float | None) -> Done | Error:
    while True:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        message = protocol.server_message.validate_json(websocket.recv(timeout=timeout))
        on_message(message)
        if isinstance(message, (Done, Error)):
            return message


def _cancel(websocket: ClientConnection) -> None:
    """Ask the service to stop the job and wait until it says it has (or a while passes)."""
    try:
        websocket.send(Cancel(type="cancel").model_dump_json())
        while True:
            raw = websocket.recv(timeout=CANCEL_WAIT_S)
            if isinstance(protocol.server_message.validate_json(raw), (Error, Done)):
                return
    except (ConnectionClosed, TimeoutError, KeyboardInterrupt):
        return
