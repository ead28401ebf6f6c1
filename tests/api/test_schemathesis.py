"""Property-based tests from the OpenAPI document: no input makes the server fail.

Schemathesis generates requests for every documented operation (valid ones and edge
cases: NaN-free extremes, empty strings, huge numbers, wrong types) and checks that no
response is a 5xx. The number of examples per operation is kept small so the whole
run stays under a minute; CI can raise it with ``SCHEMATHESIS_EXAMPLES``.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from cognirace.api.app import create_app
from cognirace.api.settings import ServeSettings
from cognirace.api.store import ModelStore

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12"))


def _app_for_schema() -> FastAPI:
    """The app whose OpenAPI document is tested; its models are set per test.

    The document comes from the model classes' contracts, not from loaded models, so
    the app is built at import (schemathesis parametrizes from it at collection) and
    the session's trained store is put in place when a test runs.
    """
    folder = Path(tempfile.mkdtemp(prefix="cognirace-schemathesis-"))
    return create_app(ServeSettings(registry_url=str(folder / "registry"),
                                    keys_file=folder / "none.json",
                                    rate_limit_per_s=1e6, rate_limit_burst=1_000_000))


APP = _app_for_schema()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture
def served_app(shared_store: ModelStore) -> FastAPI:
    """``APP`` serving the session's trained models."""
    APP.state.service.store = shared_store
    return APP


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_error(case: Any, served_app: FastAPI) -> None:
    assert served_app.state.service.store.get("laptime") is not None
    case.call_and_validate(checks=[not_a_server_error])
