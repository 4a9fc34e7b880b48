"""`/v1`: stored jobs over HTTP, for galleries and scripts, with fresh presigned URLs."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse

from .auth import authorized
from .pools import Pool, PoolBusy
from .records import SUMMARY_FIELDS, JobSummary
from .settings import Settings
from .storage import Storage, StorageError

JOB_ID = re.compile(r"^[0-9a-f]{32}$")


class ResultsApi:
    def __init__(self, settings: Settings, storage: Storage, pool: Pool) -> None:
        self.settings = settings
        self.storage = storage
        self.pool = pool  # its own threads: a hung storage cannot hold up decoding or /readyz

    async def job(self, request: Request) -> JSONResponse:
        """`GET /v1/jobs/{job_id}`: the job's record (metadata.json) and its URLs."""
        if not authorized(request, self.settings):
            return _unauthorized()
        job_id = request.path_params["job_id"]
        if not JOB_ID.match(job_id):
            return _http_error(404, "not_found", f"no job {job_id[:40]!r}")
        try:
            record = await self.pool.run(self.storage.job_metadata, job_id)
        except StorageError as error:
            return _http_error(503, "storage_unavailable", str(error))
        except PoolBusy:
            return _storage_busy()
        if record is None:
            return _http_error(404, "not_found", f"no job {job_id!r}")
        return JSONResponse({**record, **self._urls(record)})

    async def results(self, request: Request) -> JSONResponse:
        """`GET /v1/results?limit=N`: the newest jobs as JobSummary items."""
        if not authorized(request, self.settings):
            return _unauthorized()
        try:
            limit = int(request.query_params.get("limit", "20"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return _http_error(400, "bad_request", "limit must be a whole number from 1 to 100")
        try:
            records = await self.pool.run(self.storage.recent_jobs, limit)
        except StorageError as error:
            return _http_error(503, "storage_unavailable", str(error))
        except PoolBusy:
            return _storage_busy()
        summaries = [JobSummary.model_validate(
            {**{name: record.get(name) for name in SUMMARY_FIELDS if name in record},
             **self._urls(record)}).model_dump(mode="json") for record in records]
        return JSONResponse({"results": summaries})

    def _urls(self, record: dict) -> dict:
        result = record.get("result", {})
        url = self.storage.presigned_url(result.get("key") or
                                         self.storage.job_key(record["job_id"], "result.png"))
        thumbnail_key = result.get("thumbnail_key")
        thumbnail_url = self.storage.presigned_url(thumbnail_key) if thumbnail_key else url
        return {"url": url, "thumbnail_url": thumbnail_url, "expires_in": self.storage.expires_s}


def _unauthorized() -> JSONResponse:
    return _http_error(401, "unauthorized",
                       "add 'Authorization: Bearer KEY' (browser pages: ?token=KEY)")


def _storage_busy() -> JSONResponse:
    return _http_error(503, "storage_unavailable",
                       "storage is slow to answer and calls are waiting; try again shortly")


def _http_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
