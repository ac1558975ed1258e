"""Prometheus metrics of the process (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

http_requests = Counter(
    "yingji_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=REGISTRY
)
http_latency = Histogram(
    "yingji_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
timers_fired = Counter("yingji_timers_fired_total", "timers fired", ["kind"], registry=REGISTRY)
timers_failed = Counter(
    "yingji_timers_failed_total", "timer runs that failed", ["kind"], registry=REGISTRY
)
timers_parked = Counter(
    "yingji_timers_parked_total",
    "timers parked after repeated failure",
    ["kind"],
    registry=REGISTRY,
)
timer_lateness = Histogram(
    "yingji_timer_lateness_seconds",
    "business seconds between due and fired",
    registry=REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 30.0),
)
events_delivered = Counter(
    "yingji_events_delivered_total",
    "events delivered to subscribers",
    ["subscriber"],
    registry=REGISTRY,
)
ws_connections = Gauge("yingji_ws_connections", "open WebSocket connections", registry=REGISTRY)
login_failures = Counter("yingji_login_failures_total", "failed sign-ins", registry=REGISTRY)
