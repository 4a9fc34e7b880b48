"""Stored jobs expire NST_RETENTION_DAYS after they were made.

Two mechanisms, because object stores differ: at start the bucket gets an S3 lifecycle rule for
the prefix (where the store accepts one, it also removes the uploads of a job whose storing failed
halfway), and a sweep deletes every job whose index entry is older than the retention. The sweep
is what the service guarantees, on any store: the index sorts by age, so one listing from the
cut-off names exactly the expired jobs.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from .settings import Settings
from .storage import Storage, StorageError, utc_now

log = logging.getLogger("nst.retention")

DAY_S = 24 * 3600
# Sweeps run every tenth of the retention period, and at least hourly: a result outlives its
# retention by an hour at most (a tenth of it, if that is shorter).
MAX_SWEEP_INTERVAL_S = 3600.0
STORAGE_RETRY_S = 10.0
MAX_PAGES_PER_SWEEP = 100  # of 1000 jobs; the next sweep takes the rest
JOB_ID = re.compile(r"^[0-9a-f]{32}$")


class Retention:
    def __init__(self, settings: Settings, storage: Storage) -> None:
        self.retention_s = settings.retention_days * DAY_S
        self.storage = storage

    @property
    def sweep_interval_s(self) -> float:
        return min(MAX_SWEEP_INTERVAL_S, self.retention_s / 10)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The lifecycle rule and the periodic sweep, for the app's lifespan (none with 0 days)."""
        task = asyncio.create_task(self._run()) if self.retention_s > 0 else None
        yield
        if task is not None:
            task.cancel()

    async def _run(self) -> None:
        while True:  # the bucket may not exist yet, or storage may be down at start
            try:
                await asyncio.to_thread(self.storage.ensure_bucket)
                break
            except StorageError as error:
                log.warning("event=retention_waiting error=%r", str(error))
                await asyncio.sleep(min(STORAGE_RETRY_S, self.sweep_interval_s))
        days = max(1, math.ceil(self.retention_s / DAY_S))
        try:
            accepted = await asyncio.to_thread(self.storage.expire_after, days)
            log.info("event=lifecycle_rule days=%d accepted=%s", days, accepted)
        except Exception:  # noqa: BLE001 (the sweep below still expires results)
            log.exception("event=lifecycle_rule_failed")
        while True:
            try:
                await asyncio.to_thread(self.sweep)
            except StorageError as error:
                log.warning("event=sweep_failed error=%r", str(error))
            except Exception:  # noqa: BLE001 (a bug must not end the sweeps)
                log.exception("event=sweep_failed")
            await asyncio.sleep(self.sweep_interval_s)

    def sweep(self) -> int:
        """Delete every job older than the retention; returns how many."""
        cutoff = utc_now() - timedelta(seconds=self.retention_s)
        deleted = 0
        for _ in range(MAX_PAGES_PER_SWEEP):
            expired = self.storage.jobs_created_before(cutoff)
            if not expired:
                break
            for job_id, index_key in expired:
                if JOB_ID.match(job_id):
                    self.storage.delete_job(job_id, self.storage.job_metadata(job_id))
                self.storage.delete_key(index_key)  # also when the metadata was never written
                deleted += 1
        if deleted:
            log.info("event=results_expired count=%d", deleted)
        return deleted
