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
from websockets.exceptions import InvalidStatus, InvalidURI

from . import protocol
from .cli import job_params
from .engine.errors import BadParams
from .engine.params import KNOBS, blend_weights
from .job_client import ConnectionLost, run_job
from .protocol import Accepted, Done, Error, FrameMessage, Queued, Start


class ClientError(Exception):
    """Something a user can fix: a file, a URL, an option, or what the server refused."""


def main(args: argparse.Namespace) -> int:
    try:
        job_params(args)  # the same checks, and the same messages, as `nst stylize`
        start = _start_message(args)
        progress = Progress()
        try:
            last = run_job(args.url, start, progress.show,
                           token=args.token or os.environ.get("NST_API_KEY"))
        except KeyboardInterrupt:
            print("nst client: cancelled", file=sys.stderr)
            return 130
        finally:
            progress.close()
        if isinstance(last, Error):
            raise ClientError(f"the service refused the job ({last.code}): {last.message}")
        _save(last, args.output, progress.resume_token)
        return 0
    except (ClientError, BadParams, ConnectionLost) as error:
        return _fail(str(error))
    except InvalidURI:
        return _fail(f"{args.url} is not a WebSocket URL; it looks like ws://HOST:PORT/ws/stylize")
    except InvalidStatus as error:
        return _fail(_refusal(args.url, error.response.status_code, error.response.body))
    except OSError as error:
        reason = getattr(error, "strerror", None) or error
        return _fail(f"cannot reach the service at {args.url} ({reason}); start it with "
                     "`make run` or `nst serve`, or pass --url")


def _refusal(url: str, status: int, body: bytes) -> str:
    """What the service said when it refused the handshake; a hint at the URL if it said nothing."""
    try:
        error = json.loads(body)["error"]
        return (f"the service refused the connection (HTTP {status}, {error['code']}): "
                f"{error['message']}")
    except (ValueError, KeyError, TypeError):
        return (f"{url} refused the WebSocket (HTTP {status}); is that the service's /ws/stylize "
                "address?")


def _fail(message: str) -> int:
    print(f"nst: error: {message}", file=sys.stderr)
    return 2


def _start_message(args: argparse.Namespace) -> Start:
    try:
        return Start(
            type="start", content=_read_image(args.content), **_paintings(args),
            **{knob.name: getattr(args, knob.name) for knob in KNOBS},
        )
    except ValidationError as error:
        raise ClientError(protocol.describe_validation_error(error)) from None


def _paintings(args: argparse.Namespace) -> dict[str, object]:
    """One painting as `style`; several, or one with a blend given, as `styles`."""
    if len(args.style) == 1 and args.style_blend is None:
        return {"style": _read_image(args.style[0])}
    blend = blend_weights(len(args.style), args.style_blend)
    return {"styles": [protocol.StyleImage(image=_read_image(path), blend=weight)
                       for path, weight in zip(args.style, blend)]}


def _read_image(path: Path) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ClientError(f"cannot read {path}: {error.strerror}") from None
    return base64.b64encode(data).decode("ascii")


class Progress:
    """The job's progress on stderr: a line when it is accepted, then a bar."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None
        self.resume_token: str | None = None

    def show(self, message: object) -> None:
        if isinstance(message, Accepted):
            self.resume_token = message.resume_token
            size, model = message.output_size, message.model
            print(f"job {message.job_id}: {size.width}x{size.height} px, "
                  f"{message.epochs} epochs x {message.steps_per_epoch} steps, "
                  f"{model.backbone} ({model.weights} weights)", file=sys.stderr)
            self.bar = tqdm(total=message.total_steps, unit="step", file=sys.stderr,
                            desc=_position(message.position))
        elif isinstance(message, Queued) and self.bar is not None:
            self.bar.set_description(_position(message.position))
        elif isinstance(message, FrameMessage) and self.bar is not None:
            self.bar.set_description(f"epoch {message.epoch}/{message.epochs}")
            self.bar.set_postfix(loss=f"{message.losses.total:.4g}")
            self.bar.update(message.step - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _position(position: int) -> str:
    return "running" if position == 0 else f"queued, {position} ahead"


def _save(done: Done, output: Path, resume_token: str | None) -> None:
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
        print("warning: the service shut down mid-job; the image is the last one it reached",
              file=sys.stderr)
    print(f"saved {output} (job {done.job_id}, {done.status}, {done.elapsed_s:.1f} s, {where})")
    if done.stored and done.result is not None:
        print(f"result URL (valid {done.result.expires_in} s): {done.result.url}")
        # The stored job is private: this token reads it (or deletes it) at /v1/jobs/{job_id}.
        print(f"resume token (X-NST-Token for /v1/jobs/{done.job_id}): {resume_token}")
