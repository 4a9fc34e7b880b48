"""`nst client`: run one job on an nst service, with a progress bar, and save the final image."""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
import urllib.request
from pathlib import Path

from PIL import Image
from pydantic import ValidationError
from tqdm import tqdm
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect

from . import protocol
from .cli import job_params
from .engine.errors import BadParams
from .engine.params import KNOBS
from .protocol import Accepted, Done, Error, FrameMessage, Queued, Start

CANCEL_WAIT_S = 60.0


class ClientError(Exception):
    """Something a user can fix: a file, a URL, an option, or what the server refused."""


def main(args: argparse.Namespace) -> int:
    try:
        job_params(args)  # the same checks, and the same messages, as `nst stylize`
        start = _start_message(args)
        token = args.token or os.environ.get("NST_API_KEY")
        headers = {"Authorization": f"Bearer {token}"} if token else None
        with connect(args.url, additional_headers=headers, max_size=None, open_timeout=15,
                     user_agent_header="nst-client") as websocket:
            websocket.send(start.model_dump_json(exclude_none=True))
            try:
                done = _follow(websocket)
            except KeyboardInterrupt:
                _cancel(websocket)
                print("nst client: cancelled", file=sys.stderr)
                return 130
        _save(done, args.output)
        return 0
    except (ClientError, BadParams) as error:
        print(f"nst: error: {error}", file=sys.stderr)
        return 2
    except InvalidURI:
        print(f"nst: error: {args.url} is not a WebSocket URL; it looks like "
              "ws://HOST:PORT/ws/stylize", file=sys.stderr)
        return 2
    except InvalidStatus as error:
        status = error.response.status_code
        print(f"nst: error: {args.url} refused the WebSocket (HTTP {status}); is that the "
              "service's /ws/stylize address?", file=sys.stderr)
        return 2
    except (OSError, ConnectionClosed) as error:
        reason = getattr(error, "strerror", None) or error
        print(f"nst: error: cannot reach the service at {args.url} ({reason}); start it with "
              "`make run` or `nst serve`, or pass --url", file=sys.stderr)
        return 2


def _start_message(args: argparse.Namespace) -> Start:
    try:
        return Start(
            type="start", content=_read_image(args.content), style=_read_image(args.style),
            **{knob.name: getattr(args, knob.name) for knob in KNOBS},
        )
    except ValidationError as error:
        raise ClientError(protocol.describe_validation_error(error)) from None


def _read_image(path: Path) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ClientError(f"cannot read {path}: {error.strerror}") from None
    return base64.b64encode(data).decode("ascii")


def _follow(websocket: ClientConnection) -> Done:
    """Show the job's progress until `done`; raise ClientError on an `error`."""
    bar: tqdm | None = None
    try:
        for raw in websocket:
            message = protocol.server_message.validate_json(raw)
            if isinstance(message, Accepted):
                size = message.output_size
                model = message.model
                print(f"job {message.job_id}: {size.width}x{size.height} px, "
                      f"{message.epochs} epochs x {message.steps_per_epoch} steps, "
                      f"{model.backbone} ({model.weights} weights)", file=sys.stderr)
                bar = tqdm(total=message.total_steps, unit="step", file=sys.stderr,
                           desc=_position(message.position))
            elif isinstance(message, Queued) and bar is not None:
                bar.set_description(_position(message.position))
            elif isinstance(message, FrameMessage) and bar is not None:
                bar.set_description(f"epoch {message.epoch}/{message.epochs}")
                bar.set_postfix(loss=f"{message.losses.total:.4g}")
                bar.update(message.step - bar.n)
            elif isinstance(message, Done):
                return message
            elif isinstance(message, Error):
                raise ClientError(f"the service refused the job ({message.code}): "
                                  f"{message.message}")
    finally:
        if bar is not None:
            bar.close()
    raise ClientError("the server closed the connection before the job was done")


def _position(position: int) -> str:
    return "running" if position == 0 else f"queued, {position} ahead"


def _cancel(websocket: ClientConnection) -> None:
    """Ask the server to stop the job and wait (briefly) until it says it has."""
    try:
        websocket.send(json.dumps({"type": "cancel"}))
        while True:
            message = protocol.server_message.validate_json(websocket.recv(timeout=CANCEL_WAIT_S))
            if isinstance(message, (Error, Done)):
                return
    except (ConnectionClosed, TimeoutError, KeyboardInterrupt):
        return


def _save(done: Done, output: Path) -> None:
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if done.stored and done.result is not None:
        with urllib.request.urlopen(done.result.url, timeout=60) as response:
            png = response.read()
        where = f"stored as s3://{done.result.bucket}/{done.result.key}"
    else:
        png = base64.b64decode(done.image.split(",", 1)[1])
        where = f"NOT stored ({done.storage_error}); the image came inline"
    # Whatever the file name says, the bytes are PNG; re-encode only if the user asked for another.
    if output.suffix.lower() in ("", ".png"):
        output.write_bytes(png)
    else:
        Image.open(io.BytesIO(png)).convert("RGB").save(output)
    if done.status == "interrupted":
        print("warning: the service shut down mid-job; the image is its last finished epoch",
              file=sys.stderr)
    print(f"saved {output} (job {done.job_id}, {done.status}, {done.elapsed_s:.1f} s, {where})")
    if done.stored and done.result is not None:
        print(f"result URL (valid {done.result.expires_in} s): {done.result.url}")
