"""The Prometheus instruments the processes record into (served by workflows/observability.py)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
REQUEST_SECONDS = Histogram(
    "zhaoshang_request_seconds",
    "HTTP request latency by endpoint",
    ["endpoint", "method", "status"],
    registry=REGISTRY,
)
STEP_SECONDS = Histogram(
    "zhaoshang_engine_step_seconds",
    "One engine step's transaction: load, run the model, persist, audit, commit",
    registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
