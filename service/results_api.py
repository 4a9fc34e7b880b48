"""`/v1`: stored jobs over HTTP, for galleries and scripts, with fresh presigned URLs.

Private by default (service/access.py): a job is read or deleted with its resume_token
(`X-NST-Token`), `/v1/results` lists the jobs whose tokens the caller sends (`X-NST-Tokens`), and
the operator's NST_ADMIN_KEY reads everything. NST_PUBLIC_GALLERY=true lists every job instead.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import access
from .auth import authorized
from .pools import Pool, PoolBusy
from .records import SUMMARY_FIELDS, JobSummary
from .settings import Settings
from .storage import Storage, StorageError

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
# Private fields of a record: what a reader gets is the rest.
HIDDEN_FIELDS = ("token_sha256",)


class ResultsApi:
    def __init__(self, settings: Settings, storage: Storage, pool: Pool) -> None:
        self.settings = settings
        self.storage = storage
        self.pool = pool  # its own threads: a hung storage cannot hold up decoding or /readyz

    async def job(self, request: Request) -> JSONResponse:
        """`GET /v1/jobs/{job_id}`: the job's record (metadata.json) and its URLs;
        `DELETE`: the job's files, record and index entry."""
        if not self._may_call(request):
            return _unauthorized()
        job_id = request.path_params["job_id"]
        try:
            record = await self._readable_record(request, job_id)
        except StorageError as error:
            return _http_error(503, "storage_unavailable", error.public)
        except PoolBusy:
            return _storage_busy()
        if record is None:
            # The same answer for an unknown job and a wrong token: it reveals no one's jobs.
            return _http_error(404, "not_found", "no job with that id for this X-NST-Token")
        if request.method == "DELETE":
            try:
                await self.pool.run(self.storage.delete_job, job_id, record)
            except StorageError as error:
                return _http_error(503, "storage_unavailable", error.public)
            except PoolBusy:
                return _storage_busy()
            return JSONResponse({"deleted": job_id})
        public = {name: value for name, value in record.items() if name not in HIDDEN_FIELDS}
        return JSONResponse({**public, **self._urls(record)})

    async def results(self, request: Request) -> JSONResponse:
        """`GET /v1/results?limit=N`: the newest jobs the caller may see, as JobSummary items."""
        if not self._may_call(request):
            return _unauthorized()
        try:
            limit = int(request.query_params.get("limit", "20"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return _http_error(400, "bad_request", "limit must be a whole number from 1 to 100")
        try:
            digests = access.offered_digests(request)
        except access.TooManyTokens:
            return _http_error(400, "bad_request",
                               f"send at most {access.MAX_TOKENS} tokens in X-NST-Tokens")
        everyone = self.settings.public_gallery or access.is_admin(request, self.settings)
        try:
            if everyone:
                records = await self.pool.run(self.storage.recent_jobs, limit)
            else:
                records = await self.pool.run(self.storage.jobs_for_tokens, digests, limit)
        except StorageError as error:
            return _http_error(503, "storage_unavailable", error.public)
        except PoolBusy:
            return _storage_busy()
        summaries = [JobSummary.model_validate(
            {**{name: record.get(name) for name in SUMMARY_FIELDS if name in record},
             **self._urls(record)}).model_dump(mode="json") for record in records]
        return JSONResponse({"results": summaries})

    def _may_call(self, request: Request) -> bool:
        return authorized(request, self.settings) or access.is_admin(request, self.settings)

    async def _readable_record(self, request: Request, job_id: str) -> dict | None:
        """The job's record if it exists and the caller holds its token (or is the operator)."""
        if not JOB_ID.match(job_id):
            return None
        record = await self.pool.run(self.storage.job_metadata, job_id)
        if record is None:
            return None
        if access.is_admin(request, self.settings) or access.holds_token(request, record):
            return record
        return None

    def _urls(self, record: dict) -> dict:
        result = record.get("result", {})
        url = self.storage.result_url(record["job_id"], result.get("key"))
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
