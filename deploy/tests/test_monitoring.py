"""The scrape config, alert rules and dashboard parse, and name only metrics the code exports."""

import json
import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
METRIC = re.compile(r"\baftercare_[a-z_]+")
SUFFIXES = ("_bucket", "_count", "_sum", "_created")


def exported() -> set[str]:
    names = set()
    for path in [*REPO.glob("shared/shared/*.py"), *REPO.glob("services/*/*/*.py")]:
        names |= set(re.findall(r'"(aftercare_[a-z_]+)"', path.read_text()))
    return names


def base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def test_alert_rules_are_well_formed():
    rules = yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text())

    alerts = [r for g in rules["groups"] for r in g["rules"]]
    assert alerts
    for rule in alerts:
        assert {"alert", "expr", "labels", "annotations"} <= set(rule), rule
        assert rule["labels"]["severity"] in {"page", "ticket", "info"}


def test_the_scrape_config_names_the_rules_and_every_service():
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())

    assert config["rule_files"] == ["alerts.yml"]
    services = {
        t["labels"]["service"] for j in config["scrape_configs"] for t in j["static_configs"]
    }
    assert services == {"intake", "dispatch", "sla-timer", "notify", "kb"}


def test_alerts_and_dashboard_use_only_exported_metrics():
    known = exported()
    texts = [
        (DEPLOY / "prometheus/alerts.yml").read_text(),
        json.dumps(json.loads((DEPLOY / "grafana/aftercare.json").read_text())),
    ]

    used = {base(m) for text in texts for m in METRIC.findall(text)}

    assert "aftercare_events_consumed_total" in used
    assert used - known == set()
