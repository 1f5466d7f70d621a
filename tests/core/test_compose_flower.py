"""docker-compose.yml's Flower (no Docker engine here: the file is read, and the container's
start-up guard run by sh): optional by profile, loopback only, never without basic auth."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings

COMPOSE = Path(settings.BASE_DIR) / "docker-compose.yml"


def services() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_flower_is_the_theo_image_in_the_monitoring_profile_published_on_loopback() -> None:
    flower, worker = services()["flower"], services()["worker"]
    assert flower["profiles"] == ["monitoring"]
    assert flower["image"] == worker["image"] == "theo:latest"
    assert flower["ports"] == ["127.0.0.1:${THEO_FLOWER_PORT:-5555}:5555"]
    assert flower["environment"]["FLOWER_BASIC_AUTH"] == "${FLOWER_BASIC_AUTH:-}"
    # the shared environment is merged, not replaced: Flower reaches the same broker
    assert flower["environment"]["REDIS_URL"] == worker["environment"]["REDIS_URL"]
    assert "celery -A theo flower" in flower["command"][-1]


def required_variables(service: dict[str, Any]) -> set[str]:
    return set(re.findall(r"\$\{(\w+):?\?", yaml.safe_dump(service)))


def test_an_optional_service_requires_no_variable_the_default_services_do_not() -> None:
    """Compose interpolates every service before applying profiles: a `:?` of its own in an
    optional service would stop the default `docker compose up`."""
    default = set().union(*(required_variables(s) for s in services().values() if not s.get("profiles")))
    assert "POSTGRES_PASSWORD" in default
    for name, service in services().items():
        if service.get("profiles"):
            assert required_variables(service) <= default, name


@pytest.fixture
def fake_celery(tmp_path: Path) -> Path:
    """`celery` on PATH that prints how it was called, for the guard's exec."""
    script = tmp_path / "celery"
    script.write_text('#!/bin/sh\necho "celery $*"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return tmp_path


def run_guard(fake_celery: Path, auth: str) -> subprocess.CompletedProcess[str]:
    sh, flag, script = services()["flower"]["command"]
    env = {"PATH": f"{fake_celery}{os.pathsep}{os.environ['PATH']}", "FLOWER_BASIC_AUTH": auth}
    # compose turns $$ into $ before the container's shell sees the command
    return subprocess.run([sh, flag, script.replace("$$", "$")], env=env, capture_output=True, text=True, timeout=10)


@pytest.mark.parametrize("auth", ["", "ops", "ops:", ":secret"])
def test_the_container_refuses_to_start_flower_without_user_and_password(fake_celery: Path, auth: str) -> None:
    result = run_guard(fake_celery, auth)
    assert result.returncode == 1
    assert "Flower is not started: set FLOWER_BASIC_AUTH=user:password" in result.stderr
    assert "celery" not in result.stdout


def test_with_auth_the_container_runs_flower_on_its_port(fake_celery: Path) -> None:
    result = run_guard(fake_celery, "ops:s3cret")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "celery -A theo flower --address=0.0.0.0 --port=5555"
