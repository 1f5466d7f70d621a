"""deploy/prometheus/alerts.yml and deploy/grafana/theo.json: well formed, and every metric
they query is one Theo exports on /metrics (a typo'd name fails here, not silently in Prometheus).

promtool is not installed on the build machine, so this is the equivalent check: the rule file's
structure, and the metric names in each PromQL expression against a real scrape."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.core.test_metrics import metrics_text, sample

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "theo.json"

PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}
SUFFIXES = {"histogram": ("_bucket", "_count", "_sum", "_created"), "counter": ("_total", "_created")}
DURATION = re.compile(r"^\d+[smhdw]$")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, keywords or label names)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings: label values, regexes
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range durations
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)  # label lists
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word in PROMQL_WORDS or DURATION.match(word):
            continue
        names.add(word)
    return names


def exported_names() -> set[str]:
    """Every series name /metrics declares, after a request and an API error so the request
    histograms and error counters have samples."""
    client = Client()
    client.get("/health/live")
    client.get("/api/v1/no-such-endpoint/")
    names = set()
    for family in text_string_to_metric_families(metrics_text()):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def balanced(expr: str) -> bool:
    depth = 0
    for char in expr:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def rule_problems(document: object) -> list[str]:
    """What is wrong with an alerting rule file; empty when it is well formed."""
    if not isinstance(document, dict) or not isinstance(document.get("groups"), list) or not document["groups"]:
        return ["no groups"]
    problems, seen = [], set()
    for group in document["groups"]:
        if not isinstance(group, dict) or not group.get("name") or not group.get("rules"):
            problems.append(f"group without a name or rules: {group!r}")
            continue
        for rule in group["rules"]:
            name = rule.get("alert")
            if not name or not re.fullmatch(r"[A-Z][A-Za-z0-9]+", str(name)) or name in seen:
                problems.append(f"bad or repeated alert name: {name!r}")
            seen.add(name)
            if not isinstance(rule.get("expr"), str) or not balanced(rule["expr"]):
                problems.append(f"{name}: expr missing or unbalanced")
            if not re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))):
                problems.append(f"{name}: no `for:` duration")
            if rule.get("labels", {}).get("severity") not in {"page", "warning"}:
                problems.append(f"{name}: severity label must be page or warning")
            annotations = rule.get("annotations", {})
            if not annotations.get("summary") or not annotations.get("description"):
                problems.append(f"{name}: needs summary and description annotations")
            if extra := set(rule) - {"alert", "expr", "for", "labels", "annotations"}:
                problems.append(f"{name}: unknown keys {sorted(extra)}")
    return problems


def alert_rules() -> dict[str, dict]:
    document = yaml.safe_load(ALERTS.read_text())
    return {rule["alert"]: rule for group in document["groups"] for rule in group["rules"]}


def test_alert_file_is_well_formed():
    assert rule_problems(yaml.safe_load(ALERTS.read_text())) == []


@pytest.mark.parametrize(
    ("alert", "threshold"),
    [
        ("TheoHighErrorRate", "> 0.01"),  # error rate above 1 %
        ("TheoSlowRoute", "> 2"),  # p95 above 2 s
        ("TheoCacheHitRateLow", "< 0.8"),  # cache hit rate below 80 %
        ("TheoDatabasePoolNearlyFull", "> 0.8"),  # connections above 80 % of the pool
        ("TheoBreakerOpen", "== 2"),  # 2 is "open"
        ("TheoIngestionBacklog", "> 1800"),
    ],
)
def test_each_design_threshold_has_its_alert(alert, threshold):
    expr = " ".join(alert_rules()[alert]["expr"].split())
    assert expr.endswith(threshold)
    if alert == "TheoSlowRoute":
        assert "histogram_quantile(0.95," in expr


@pytest.mark.django_db
def test_every_metric_the_alerts_query_is_exported():
    exported = exported_names()
    for name, rule in alert_rules().items():
        used = metric_names(rule["expr"])
        assert used, name
        assert used <= exported, f"{name} queries metrics /metrics does not export: {used - exported}"


@pytest.mark.django_db
def test_every_metric_the_dashboard_queries_is_exported():
    dashboard = json.loads(DASHBOARD.read_text())
    exported = exported_names()
    targets = [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(targets) >= 12
    for title, expr in targets:
        used = metric_names(expr)
        assert used and used <= exported, f"{title!r} queries metrics /metrics does not export: {used - exported}"
    queried = set().union(*(metric_names(expr) for _, expr in targets))
    for figure in (
        "django_http_requests_latency_seconds_by_view_method_bucket",
        "theo_websocket_connections_open",
        "theo_ai_tokens_total",
        "theo_ai_cost_usd_total",
        "theo_db_pool_connections",
        "theo_cache_requests_total",
        "theo_api_errors_total",
        "theo_llm_breaker_state",
        "theo_ingestion_oldest_seconds",
    ):
        assert figure in queried, f"the dashboard has no panel for {figure}"


# --- the checks themselves catch mistakes --------------------------------------------------


def test_metric_names_reads_selectors_not_functions_or_labels():
    expr = (
        'histogram_quantile(0.95, sum by (le, view) (rate(django_x_bucket{view!="a b"}[5m])))'
        " / on(instance) group_left theo_y > 2"
    )
    assert metric_names(expr) == {"django_x_bucket", "theo_y"}


@pytest.mark.django_db
def test_a_misspelt_metric_is_caught():
    assert not metric_names("sum(rate(theo_ai_tokenz_total[5m])) > 1") <= exported_names()


def test_a_rule_without_for_or_severity_is_caught():
    rule = {"alert": "TheoX", "expr": "up == 0", "labels": {}, "annotations": {"summary": "s"}}
    problems = rule_problems({"groups": [{"name": "g", "rules": [rule]}]})
    assert any("for:" in p for p in problems)
    assert any("severity" in p for p in problems)
    assert any("description" in p for p in problems)
    assert rule_problems({"groups": []}) == ["no groups"]


@pytest.mark.django_db
def test_request_durations_have_a_bucket_at_the_p95_threshold():
    Client().get("/health/live")
    bucket = "django_http_requests_latency_seconds_by_view_method_bucket"
    at_two = sample(metrics_text(), bucket, 'le="2.0",method="GET",view="health-live"')
    assert at_two is not None and at_two >= 1, "no 2 s bucket: the p95 alert would interpolate from 1 s to 2.5 s"
