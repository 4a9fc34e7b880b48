"""Results in S3-compatible object storage: one folder per job, metadata as JSON, presigned URLs.

Layout under NST_S3_PREFIX in NST_S3_BUCKET:
    index/{inverted time}-{job_id}   (empty; lists newest first: a gallery reads `limit` keys only)
    jobs/{job_id}/result.png, thumbnail.jpg, content.{ext}, style.{ext}, metadata.json
    tokens/{sha256 of the resume_token}   (the job id: /v1/results finds a caller's jobs by token)
The index entry is written first, so the retention sweep finds even a job whose storing failed
halfway; metadata.json is written last, so a job whose metadata exists is complete.
All calls block: the service runs them in worker threads.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from .protocol import StoredResult
from .settings import Settings

log = logging.getLogger("nst.storage")
T = TypeVar("T")

# Keys sort ascending, so the index stores (this - milliseconds since 1970) to list newest first.
_INDEX_EPOCH_MS = 10**13 - 1
_TRANSIENT_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout",
                    "InternalError", "ServiceUnavailable", "RequestTimeTooSkewed"}


class StorageError(Exception):
    """Storage could not be reached or refused a request, after retries; no secrets inside.

    `str()` names the endpoint, for the log; `public` does not, for clients."""

    def __init__(self, detail: str, public: str) -> None:
        super().__init__(detail)
        self.public = public


class Storage:
    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix.strip("/") + "/" if settings.s3_prefix.strip("/") else ""
        self.expires_s = settings.url_expires_s
        self.attempts = settings.s3_attempts
        self.backoff_s = settings.s3_backoff_s
        self.endpoint = settings.s3_endpoint or "AWS S3"
        config = Config(
            signature_version="s3v4",
            # Most S3-compatible servers (SeaweedFS, MinIO) serve buckets as paths, not subdomains.
            s3={"addressing_style": "path" if settings.s3_endpoint else "auto"},
            # We retry ourselves, with logs and backoff; botocore's own retries would multiply ours.
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=settings.s3_timeout_s,
            read_timeout=settings.s3_timeout_s,
        )
        self._s3 = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint or None,
            region_name=settings.s3_region,
            config=config,
        )

    # Keys -----------------------------------------------------------------------------------------

    def job_key(self, job_id: str, name: str) -> str:
        return f"{self.prefix}jobs/{job_id}/{name}"

    def _token_key(self, token_sha256: str) -> str:
        return f"{self.prefix}tokens/{token_sha256}"

    def _index_key(self, job_id: str, created_at: datetime) -> str:
        # Whole milliseconds, the same from a datetime and from its ISO form in metadata.json.
        milliseconds = round(created_at.replace(microsecond=created_at.microsecond // 1000 * 1000)
                             .timestamp() * 1000)
        return f"{self.prefix}index/{_INDEX_EPOCH_MS - milliseconds:013d}-{job_id}"

    # Health ---------------------------------------------------------------------------------------

    def ensure_bucket(self) -> None:
        """Create the bucket if it is missing (once, at start-up)."""
        try:
            self._retrying("checking the bucket", lambda: self._s3.head_bucket(Bucket=self.bucket))
            return
        except StorageError as error:
            if not _is_missing(error.__cause__):
                raise
        self._retrying("creating the bucket", self._create_bucket)

    def check(self) -> None:
        """One quick request, no retries (for /readyz); creates the bucket if it went missing."""
        try:
            try:
                self._s3.head_bucket(Bucket=self.bucket)
            except ClientError as error:
                if not _is_missing(error):
                    raise
                self._create_bucket()
        except (BotoCoreError, ClientError) as error:
            raise StorageError(_summary(error, self.endpoint), _summary(error)) from error

    def _create_bucket(self) -> None:
        kwargs: dict = {"Bucket": self.bucket}
        region = self._s3.meta.region_name
        if self.endpoint == "AWS S3" and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        self._s3.create_bucket(**kwargs)
        log.info("event=bucket_created bucket=%s endpoint=%s", self.bucket, self.endpoint)

    # Jobs -----------------------------------------------------------------------------------------

    def save_job(
        self,
        job_id: str,
        files: dict[str, tuple[bytes, str]],
        metadata: dict,
        created_at: datetime,
        token_sha256: str | None,
    ) -> StoredResult:
        """Write a job's index entry, files (name -> (bytes, content type)), token entry and
        metadata, in that order."""
        self._put(self._index_key(job_id, created_at), b"", "text/plain")
        for name, (body, content_type) in files.items():
            self._put(self.job_key(job_id, name), body, content_type)
        if token_sha256:
            self._put(self._token_key(token_sha256), job_id.encode(), "text/plain")
        metadata_key = self.job_key(job_id, "metadata.json")
        self._put(metadata_key, json.dumps(metadata, indent=2).encode(), "application/json")
        key = self.job_key(job_id, "result.png")
        return StoredResult(bucket=self.bucket, key=key, url=self.result_url(job_id),
                            metadata_key=metadata_key, expires_in=self.expires_s)

    def presigned_url(self, key: str, download_as: str | None = None) -> str:
        """A GET of `key` for NST_URL_EXPIRES_S; with `download_as`, browsers save it as that
        file instead of opening it (an <img> shows it either way)."""
        params = {"Bucket": self.bucket, "Key": key}
        if download_as:
            params["ResponseContentDisposition"] = f'attachment; filename="{download_as}"'
        return self._s3.generate_presigned_url("get_object", Params=params,
                                               ExpiresIn=self.expires_s)

    def result_url(self, job_id: str, key: str | None = None) -> str:
        return self.presigned_url(key or self.job_key(job_id, "result.png"),
                                  download_as=f"nst-{job_id}.png")

    def job_metadata(self, job_id: str) -> dict | None:
        """A stored job's metadata.json, or None if there is no such job."""
        key = self.job_key(job_id, "metadata.json")
        try:
            response = self._retrying(
                "reading metadata", lambda: self._s3.get_object(Bucket=self.bucket, Key=key)
            )
        except StorageError as error:
            if _is_missing(error.__cause__):
                return None
            raise
        return json.loads(response["Body"].read())

    def recent_jobs(self, limit: int) -> list[dict]:
        """Metadata of the newest `limit` stored jobs, newest first."""
        listing = self._retrying("listing results", lambda: self._s3.list_objects_v2(
            Bucket=self.bucket, Prefix=f"{self.prefix}index/", MaxKeys=limit
        ))
        jobs = []
        for item in listing.get("Contents", []):
            job_id = item["Key"].rsplit("-", 1)[-1]
            metadata = self.job_metadata(job_id)
            if metadata is not None:
                jobs.append(metadata)
        return jobs

    def jobs_for_tokens(self, digests: list[str], limit: int) -> list[dict]:
        """Metadata of the first `limit` stored jobs whose token digests these are (two reads
        each, so callers send their newest tokens first), newest first."""
        jobs: list[dict] = []
        for digest in digests:
            if len(jobs) == limit:
                break
            job_id = self._read_text(self._token_key(digest))
            metadata = self.job_metadata(job_id) if job_id else None
            if metadata is not None and metadata.get("token_sha256") == digest:
                jobs.append(metadata)
        return sorted(jobs, key=lambda job: str(job.get("created_at")), reverse=True)

    def delete_job(self, job_id: str, metadata: dict | None) -> None:
        """Delete a job's metadata first (so it is no longer complete), then the rest."""
        keys = [self.job_key(job_id, "metadata.json")]
        if metadata and metadata.get("token_sha256"):
            keys.append(self._token_key(metadata["token_sha256"]))
        listing = self._retrying("listing a job", lambda: self._s3.list_objects_v2(
            Bucket=self.bucket, Prefix=self.job_key(job_id, "")))
        keys += [item["Key"] for item in listing.get("Contents", []) if item["Key"] not in keys]
        if metadata and metadata.get("created_at"):
            created_at = datetime.fromisoformat(metadata["created_at"].replace("Z", "+00:00"))
            keys.append(self._index_key(job_id, created_at))
        for key in keys:
            self._retrying("deleting a job", lambda key=key: self._s3.delete_object(
                Bucket=self.bucket, Key=key))

    def jobs_created_before(self, moment: datetime, limit: int = 1000) -> list[tuple[str, str]]:
        """(job id, index key) of up to `limit` jobs created before `moment`, newest first:
        the index sorts newest first, so they are the keys after `moment`'s own."""
        start_after = self._index_key("", moment)
        listing = self._retrying("listing old results", lambda: self._s3.list_objects_v2(
            Bucket=self.bucket, Prefix=f"{self.prefix}index/", StartAfter=start_after,
            MaxKeys=limit))
        return [(item["Key"].rsplit("-", 1)[-1], item["Key"])
                for item in listing.get("Contents", [])]

    def delete_key(self, key: str) -> None:
        self._retrying("deleting an index entry",
                       lambda: self._s3.delete_object(Bucket=self.bucket, Key=key))

    def expire_after(self, days: int) -> bool:
        """Ask the store to delete everything under the prefix `days` after it was written (an S3
        lifecycle rule, merged with the bucket's others). False if the store refuses."""
        rule = {"ID": f"nst-retention-{self.prefix or 'all'}".rstrip("/"), "Status": "Enabled",
                "Filter": {"Prefix": self.prefix}, "Expiration": {"Days": days}}
        try:
            try:
                rules = self._s3.get_bucket_lifecycle_configuration(Bucket=self.bucket)["Rules"]
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
                    raise
                rules = []
            rules = [other for other in rules if other.get("ID") != rule["ID"]] + [rule]
            self._s3.put_bucket_lifecycle_configuration(
                Bucket=self.bucket, LifecycleConfiguration={"Rules": rules})
        except (BotoCoreError, ClientError) as error:
            log.info("event=lifecycle_unsupported error=%r", _summary(error, self.endpoint))
            return False
        return True

    # Plumbing -------------------------------------------------------------------------------------

    def _read_text(self, key: str) -> str | None:
        try:
            response = self._retrying("reading a token entry",
                                      lambda: self._s3.get_object(Bucket=self.bucket, Key=key))
        except StorageError as error:
            if _is_missing(error.__cause__):
                return None
            raise
        return response["Body"].read().decode(errors="replace").strip()

    def _put(self, key: str, body: bytes, content_type: str) -> None:
        self._retrying(f"writing {key.rsplit('/', 1)[-1]}", lambda: self._s3.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType=content_type
        ))

    def _retrying(self, what: str, call: Callable[[], T]) -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                return call()
            except (BotoCoreError, ClientError) as error:
                if not _is_transient(error) or attempt == self.attempts:
                    tries = f" after {attempt} attempts" if attempt > 1 else ""
                    raise StorageError(f"{what} failed{tries}: {_summary(error, self.endpoint)}",
                                       f"{what} failed{tries}: {_summary(error)}") from error
                delay = self.backoff_s * 2 ** (attempt - 1)
                log.warning("event=storage_retry what=%r attempt=%d delay_s=%.2f error=%r",
                            what, attempt, delay, _summary(error, self.endpoint))
                time.sleep(delay)
        raise AssertionError("unreachable")


def _is_transient(error: Exception) -> bool:
    if isinstance(error, (ConnectionError, HTTPClientError)):
        return True
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or error.response.get("Error", {}).get("Code") in _TRANSIENT_CODES
    return False


def _is_missing(error: BaseException | None) -> bool:
    if not isinstance(error, ClientError):
        return False
    code = str(error.response.get("Error", {}).get("Code"))
    return code in {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}


def _summary(error: Exception, endpoint: str | None = None) -> str:
    """One line about a storage error; only with `endpoint` (for the log) does it say where."""
    where = endpoint or "the storage"
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code", "error")
        if endpoint is None:
            return f"{code} from the storage"
        return f"{code} from {where}: {details.get('Message', '')}".strip(": ")
    if isinstance(error, ConnectionError):
        return f"cannot reach {where}"
    return str(error) if endpoint else f"the storage failed ({type(error).__name__})"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
