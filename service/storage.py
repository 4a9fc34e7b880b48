"""Results in S3-compatible object storage: one folder per job, metadata as JSON, presigned URLs.

Layout under NST_S3_PREFIX in NST_S3_BUCKET:
    jobs/{job_id}/result.png, thumbnail.jpg, content.{ext}, style.{ext}, metadata.json
    index/{inverted time}-{job_id}   (empty; lists newest first: a gallery reads `limit` keys only)
metadata.json is written after the images, so a job whose metadata exists is complete.
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
    """Storage could not be reached or refused a request, after retries; no secrets inside."""


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

    def _index_key(self, job_id: str, created_at: datetime) -> str:
        inverted = _INDEX_EPOCH_MS - int(created_at.timestamp() * 1000)
        return f"{self.prefix}index/{inverted:013d}-{job_id}"

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
            raise StorageError(_summary(error, self.endpoint)) from error

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
    ) -> StoredResult:
        """Write a job's files (name -> (bytes, content type)), its metadata, its index entry."""
        for name, (body, content_type) in files.items():
            self._put(self.job_key(job_id, name), body, content_type)
        metadata_key = self.job_key(job_id, "metadata.json")
        self._put(metadata_key, json.dumps(metadata, indent=2).encode(), "application/json")
        self._put(self._index_key(job_id, created_at), b"", "text/plain")
        key = self.job_key(job_id, "result.png")
        return StoredResult(bucket=self.bucket, key=key, url=self.presigned_url(key),
                            metadata_key=metadata_key, expires_in=self.expires_s)

    def presigned_url(self, key: str) -> str:
        return self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.expires_s
        )

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

    # Plumbing -------------------------------------------------------------------------------------

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
                    raise StorageError(
                        f"{what} failed{tries}: {_summary(error, self.endpoint)}"
                    ) from error
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


def _summary(error: Exception, endpoint: str) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        summary = f"{details.get('Code', 'error')} from {endpoint}: {details.get('Message', '')}"
        return summary.strip(": ")
    if isinstance(error, ConnectionError):
        return f"cannot reach {endpoint}"
    return str(error)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
