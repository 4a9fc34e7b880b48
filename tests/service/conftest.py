"""Pictures and an extra server for the service tests (shared servers: tests/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from ws_jobs import ALLOWED_ORIGIN, API_KEY, sample


@dataclass(frozen=True)
class Pictures:
    content: bytes  # tubingen, 96x72 JPEG
    style: bytes    # starry night, 96x60 PNG


@pytest.fixture(scope="session")
def pictures() -> Pictures:
    return Pictures(content=sample("tubingen.jpg", 96, "JPEG"),
                    style=sample("starry_night.jpg", 96, "PNG"))


@pytest.fixture(scope="session")
def strict_server(start_service):
    """An API key, one allowed browser origin, and room for one waiting job only."""
    return start_service(NST_API_KEY=API_KEY, NST_ALLOWED_ORIGINS=ALLOWED_ORIGIN,
                         NST_MAX_QUEUE="1")
