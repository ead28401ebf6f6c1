"""The metric names a PromQL expression or a Grafana dashboard reads, and those a scrape
exports, so a test can hold the dashboard and the alert rules to what the service has.

A small reader, not a PromQL parser: it drops what cannot hold a metric name (string
literals, label matchers, ranges, ``by``/``without``/``on``/``ignoring`` lists) and keeps
the identifiers not called as functions and not operators. Enough for the expressions
of ``deploy/``; its own test pins what it finds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w$.])[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
             "group_left", "group_right", "inf", "nan", "atan2"}
_LABEL_VALUES = re.compile(r"label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)")

SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",), "info": ("_info",),
            "histogram": ("_bucket", "_count", "_sum", "_created"),
            "summary": ("", "_count", "_sum", "_created"), "unknown": ("",)}
"""The sample names of each metric type, from its family name (prometheus_client's)."""


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` reads."""
    text = _STRING.sub('""', expr)
    while _MATCHERS.search(text):
        text = _MATCHERS.sub(" ", text)
    text = _GROUPING.sub(" ", _RANGE.sub(" ", text))
    names = set()
    for match in _IDENT.finditer(text):
        rest = text[match.end():].lstrip()
        if rest.startswith("(") or match.group() in _KEYWORDS:
            continue
        names.add(match.group())
    return names


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    """Every query of a Grafana dashboard: panel targets (rows' panels included) and
    template variables (``label_values(metric, label)`` as its metric)."""
    exprs = []

    def walk(panels: Iterable[dict[str, Any]]) -> None:
        for panel in panels:
            exprs.extend(t["expr"] for t in panel.get("targets", []) if t.get("expr"))
            walk(panel.get("panels", []))

    walk(dashboard.get("panels", []))
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query or "")
        if variable.get("type") == "query":
            found = _LABEL_VALUES.search(text)
            exprs.append(found.group(1) if found else text)
    return exprs


def exported_names(families: Iterable[Any]) -> set[str]:
    """Every sample name a scrape's families export (declared ones without samples too)."""
    names = set()
    for family in families:
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


__all__ = ["dashboard_exprs", "exported_names", "metric_names"]
