"""Prometheus metrics of the prediction service, served at ``GET /metrics``.

Each ``Metrics`` has its own ``CollectorRegistry`` (never the global default), so many
apps can live in one process, as they do in tests, without "duplicated timeseries".

Several workers (``cognirace serve --workers N``, i.e. ``uvicorn --workers N``): each
worker is its own process with its own counters, and a scrape reaches one of them at
random. Set ``PROMETHEUS_MULTIPROC_DIR`` to an empty, writable folder *before* the
server starts (prometheus_client picks its value store at import, and the workers
inherit the variable); every worker then writes its values to files there and
``render`` adds them up across workers with ``MultiProcessCollector``. Empty the
folder at each start, or the previous run's counts stay in the sums. Counters of a
worker that died and was replaced keep counting in the sums, as they should; the
model-version gauge (``livemax``) keeps showing a dead worker's versions until
``prometheus_client.multiprocess.mark_process_dead(pid)`` is called for it, which
uvicorn has no hook for (gunicorn's ``child_exit`` has); the same holds for each
worker's memory gauge (``liveall``: one series per worker, by ``pid``).

Live races count per race: frames taken (applied, duplicate or refused), the events
they raised by type, the time to apply a frame, and the race's lag, the wall clock
minus the stream's clock after its latest frame: the feed's delay plus ours for a race
run live (a replay of an old race lags by its age, by design). A race's series stay for
the life of the worker, as the race does.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                     1.0, 2.5, 5.0, 10.0)
"""Request-duration buckets in seconds: sub-millisecond hits up to the 10 s worst case."""
MEMORY_EVERY_S = 1.0
"""Least time between two readings of the worker's memory, s (read as requests end)."""
FRAME_OUTCOMES = ("applied", "duplicate", "refused")


class Metrics:
    """The service's metrics: latency, status counts, cache, rate limits, model versions,
    readiness, worker memory and live races.

    Args:
        registry: Where the metrics are registered; a fresh one when None.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        reg = self.registry
        self._duration = Histogram(
            "cognirace_http_request_duration_seconds",
            "Time from request received to response sent, in seconds.",
            ["route", "method", "model"], buckets=LATENCY_BUCKETS_S, registry=reg)
        self._requests = Counter(
            "cognirace_http_requests", "HTTP requests answered, by status code.",
            ["route", "method", "status"], registry=reg)
        self._cache_hits = Counter(
            "cognirace_cache_hits", "Predictions answered from the response cache.",
            ["model"], registry=reg)
        self._cache_misses = Counter(
            "cognirace_cache_misses", "Predictions not in the response cache.",
            ["model"], registry=reg)
        self._rate_limited = Counter(
            "cognirace_rate_limited", "Requests refused with 429 by the rate limiter.",
            ["key_id"], registry=reg)
        self._model_info = Gauge(
            "cognirace_model_info", "Model version being served (1 per model and version).",
            ["model", "version"], registry=reg, multiprocess_mode="livemax")
        self._load_failures = Counter(
            "cognirace_model_load_failures",
            "Model loads that failed (the previous version kept serving).",
            ["model"], registry=reg)
        self._ready = Gauge(
            "cognirace_ready", "1 when every model serves and the registry answers "
            "(as /ready), read at each scrape.", registry=reg,
            multiprocess_mode="livemostrecent")
        self._memory = Gauge(
            "cognirace_worker_resident_memory_bytes", "Resident memory of the worker, "
            "bytes.", registry=reg, multiprocess_mode="liveall")
        self._race_frames = Counter(
            "cognirace_race_frames", "Frames of a live race taken, by outcome (applied, "
            "duplicate, refused).", ["race", "outcome"], registry=reg)
        self._race_events = Counter(
            "cognirace_race_events", "Events raised by a live race's frames, by type.",
            ["race", "type"], registry=reg)
        self._frame_seconds = Histogram(
            "cognirace_race_frame_seconds", "Time to apply one frame of a live race "
            "(waiting for the race's lock included), in seconds.", ["race"],
            buckets=LATENCY_BUCKETS_S, registry=reg)
        self._race_lag = Gauge(
            "cognirace_race_lag_seconds", "Wall clock minus the race's stream clock after "
            "its latest frame, in seconds.", ["race"], registry=reg,
            multiprocess_mode="livemostrecent")
        self._versions: dict[str, str] = {}
        self.readiness: Callable[[], bool] | None = None
        """Readiness probe read at each scrape (``create_app`` sets it)."""
        self._memory_read_at = -MEMORY_EVERY_S

    def observe_request(self, route: str, method: str, model: str, status: int,
                        seconds: float) -> None:
        """Count one answered request and its duration.

        Args:
            route: The route template (``/v1/predict/{model}``), not the raw path, so
                label values stay few.
            method: HTTP method.
            model: Model name, or ``""`` for routes that serve none.
            status: HTTP status code sent.
            seconds: Duration in seconds.
        """
        self._duration.labels(route=route, method=method, model=model).observe(seconds)
        self._requests.labels(route=route, method=method, status=str(status)).inc()
        if time.monotonic() - self._memory_read_at >= MEMORY_EVERY_S:
            self._read_memory()

    def cache_hit(self, model: str) -> None:
        """A prediction answered from the cache."""
        self._cache_hits.labels(model=model).inc()

    def cache_miss(self, model: str) -> None:
        """A prediction that had to be computed."""
        self._cache_misses.labels(model=model).inc()

    def rate_limited(self, key_id: str) -> None:
        """A request refused with 429 for the key (or client) ``key_id``."""
        self._rate_limited.labels(key_id=key_id).inc()

    def set_model_version(self, model: str, version: str) -> None:
        """Record that ``model`` now serves ``version``; the old version's series goes.

        The old series is set to 0 before removal: in multiprocess mode removal only
        forgets it in this process, and its file keeps the last value written.
        """
        old = self._versions.get(model)
        if old is not None and old != version:
            self._model_info.labels(model=model, version=old).set(0)
            self._model_info.remove(model, old)
        self._model_info.labels(model=model, version=version).set(1)
        self._versions[model] = version

    def model_load_failed(self, model: str) -> None:
        """A load of ``model`` failed; the previous version (if any) keeps serving."""
        self._load_failures.labels(model=model).inc()

    def race_frame(self, race: str, outcome: str, seconds: float,
                   clock: dt.datetime | None = None, events: tuple[str, ...] = ()) -> None:
        """Count one frame of ``race`` taken, with its outcome and apply time.

        Args:
            race: The race id.
            outcome: One of ``FRAME_OUTCOMES``.
            seconds: Time to apply it (or refuse it), s.
            clock: The race's stream clock after it (timezone-aware), for the lag.
            events: The type of each event it raised.
        """
        self._race_frames.labels(race=race, outcome=outcome).inc()
        self._frame_seconds.labels(race=race).observe(seconds)
        for kind in events:
            self._race_events.labels(race=race, type=kind).inc()
        if clock is not None:
            lag = (dt.datetime.now(dt.UTC) - clock).total_seconds()
            self._race_lag.labels(race=race).set(lag)

    def _read_memory(self) -> None:
        self._memory_read_at = time.monotonic()
        resident = resident_bytes()
        if resident is not None:
            self._memory.set(resident)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type, summed over workers in multiprocess mode.

        Reads readiness (which may probe the registry): call it off the event loop.
        """
        if self.readiness is not None:
            self._ready.set(1 if self.readiness() else 0)
        self._read_memory()
        if self.multiprocess_dir is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        combined = CollectorRegistry()
        MultiProcessCollector(combined, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(combined), CONTENT_TYPE_LATEST


def resident_bytes() -> int | None:
    """This process's resident memory in bytes, from ``/proc`` (None where there is none)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


__all__ = ["FRAME_OUTCOMES", "LATENCY_BUCKETS_S", "MULTIPROC_ENV", "Metrics", "resident_bytes"]
