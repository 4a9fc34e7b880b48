"""The web app's own HTTP routes beside the page, on its own origin.

- `GET /download/<job id>` with the job's `X-NST-Token`: the stored PNG as an attachment named
  `nst-<job id>.png`. The browser would ignore `download` on a link to the storage (another
  origin), so the web app fetches the result (the service's `/v1/jobs/{id}` with the token, then
  its presigned URL) and hands it over itself.
- `GET /service-status`: the service's `/readyz`, which the page polls for its header.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request

from flask import Flask, Response, jsonify, request

from .settings import WebSettings

log = logging.getLogger("nst.web")
JOB_ID = re.compile(r"[0-9a-f]{32}")
TOKEN = re.compile(r"[A-Za-z0-9_-]{1,128}")
MAX_RESULT_BYTES = 64 * 1024 * 1024  # a 1024 px PNG is a few MB; more is not a result of ours
NO_SUCH_RESULT = "no result with that id for this token"  # alike for a bad id, token or job
STATUS_TIMEOUT_S = 2.0  # the page polls every few seconds: a hung service must not pile them up


class ServiceCallError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def add_routes(server: Flask, settings: WebSettings) -> None:
    @server.get("/download/<job_id>")
    def download(job_id: str) -> Response:
        token = request.headers.get("X-NST-Token", "")
        if not _well_formed(job_id, token):  # checked before it reaches a log line
            return _error(404, NO_SUCH_RESULT)
        try:
            png = fetch_result(settings, job_id, token)
        except ServiceCallError as error:
            log.warning("event=download_failed job_id=%s status=%d error=%r", job_id,
                        error.status, str(error))
            return _error(error.status, str(error))
        log.info("event=download job_id=%s bytes=%d", job_id, len(png))
        return Response(png, mimetype="image/png", headers={
            "Content-Disposition": f'attachment; filename="nst-{job_id}.png"',
            "Cache-Control": "private, no-store"})

    @server.get("/service-status")
    def service_status() -> Response:
        return jsonify(readiness(settings))


def _well_formed(job_id: str, token: str) -> bool:
    return bool(JOB_ID.fullmatch(job_id) and TOKEN.fullmatch(token))


def _error(status: int, message: str) -> Response:
    """A failed call's reason as JSON, where nst.js reads it (`error.message`) to tell the user."""
    answer = jsonify({"error": {"message": message}})
    answer.status_code = status
    return answer


def service_call(settings: WebSettings, path: str, method: str = "GET",
                 token: str | None = None, timeout_s: float | None = None) -> dict:
    """A JSON call to the service's HTTP side, with the API key and the job's token."""
    call = urllib.request.Request(f"{settings.service_http_url}{path}", method=method,
                                  headers={"Accept": "application/json"})
    if token is not None:
        call.add_header("X-NST-Token", token)
    if settings.api_key is not None:
        call.add_header("Authorization", f"Bearer {settings.api_key.get_secret_value()}")
    timeout_s = timeout_s or settings.service_timeout_s
    try:
        with urllib.request.urlopen(call, timeout=timeout_s) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise ServiceCallError(404, NO_SUCH_RESULT) from error
        raise ServiceCallError(502, f"the service answered {error.code}") from error
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
        raise ServiceCallError(502, "could not reach the service") from error


def job_record(settings: WebSettings, job_id: str, token: str) -> dict:
    """The job's stored record, as the service's `/v1/jobs/{id}` gives it to the token's holder."""
    if not _well_formed(job_id, token):
        raise ServiceCallError(404, NO_SUCH_RESULT)
    record = service_call(settings, f"/v1/jobs/{job_id}", token=token)
    if not isinstance(record, dict):
        raise ServiceCallError(502, "the service's record is not a JSON object")
    return record


def fetch_result(settings: WebSettings, job_id: str, token: str) -> bytes:
    record = job_record(settings, job_id, token)
    url = record.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ServiceCallError(502, "the service's record has no result URL")
    try:
        with urllib.request.urlopen(url, timeout=settings.service_timeout_s) as answer:
            png = answer.read(MAX_RESULT_BYTES + 1)
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise ServiceCallError(502, "could not read the result from storage") from error
    if len(png) > MAX_RESULT_BYTES or not png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ServiceCallError(502, "the stored result is not a PNG")
    return png


def delete_result(settings: WebSettings, job_id: str, token: str) -> None:
    if not _well_formed(job_id, token):
        raise ServiceCallError(404, NO_SUCH_RESULT)
    service_call(settings, f"/v1/jobs/{job_id}", method="DELETE", token=token)


def readiness(settings: WebSettings) -> dict:
    """`{"ready": bool, "model": {...} | None, "reason": str | None}` from the service's /readyz
    (503 carries a reason too)."""
    try:
        with urllib.request.urlopen(f"{settings.service_http_url}/readyz",
                                    timeout=STATUS_TIMEOUT_S) as answer:
            body = json.load(answer)
    except urllib.error.HTTPError as error:
        try:
            body = json.load(error)
        except ValueError:
            body = {"ready": False, "reason": f"the service answered {error.code}"}
    except (urllib.error.URLError, TimeoutError, OSError, ValueError):
        return {"ready": False, "model": None, "reason": "the service does not answer"}
    body = body if isinstance(body, dict) else {}
    model = body.get("model") if isinstance(body.get("model"), dict) else None
    return {"ready": body.get("ready") is True, "model": model,
            "reason": str(body.get("reason") or "") or None}
