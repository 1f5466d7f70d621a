"""`manage.py run` and Flower: started only with THEO_FLOWER=true, on loopback, behind basic
auth passed in its environment; refused (Theo runs on) without auth; and its exit does not
stop Theo. The real Flower answering behind its auth: tests/integration/test_flower.py."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO
from typing import Any

import pytest

from apps.core.management.commands.run import Child, Command

OPTIONS = {"host": "127.0.0.1", "port": 8000, "no_worker": False, "no_beat": False}


def command() -> Command:
    return Command(stdout=StringIO(), stderr=StringIO())


def flower_of(children: list[Child]) -> Child | None:
    return next((child for child in children if child.name == "flower"), None)


def test_without_theo_flower_there_is_no_flower_even_with_auth(settings: Any) -> None:
    settings.FLOWER_ENABLED = False  # the default (THEO_FLOWER unset)
    settings.FLOWER_BASIC_AUTH = "ops:s3cret"  # auth alone does not start it
    children = command()._children(OPTIONS)
    assert [child.name for child in children] == ["web", "worker", "beat"]


def test_with_theo_flower_it_runs_on_loopback_with_the_port_and_auth(settings: Any) -> None:
    settings.FLOWER_ENABLED = True
    settings.FLOWER_PORT = 5601
    settings.FLOWER_BASIC_AUTH = "ops:s3cret, second:pa:ss"
    cmd = command()

    flower = flower_of(cmd._children(OPTIONS))

    assert flower is not None
    assert flower.argv == [
        sys.executable, "-m", "celery", "-A", "theo", "flower", "--address=127.0.0.1", "--port=5601",
    ]  # fmt: skip
    assert flower.env == {"FLOWER_BASIC_AUTH": "ops:s3cret,second:pa:ss"}
    assert not any("s3cret" in arg for arg in flower.argv)  # never visible in `ps`
    assert flower.essential is False
    assert "http://127.0.0.1:5601/" in cmd.stdout.getvalue()


@pytest.mark.parametrize("auth", ["", "   ", "ops", "ops:", ":secret", "ops:s3cret,nopassword"])
def test_without_usable_auth_flower_is_refused_and_theo_still_runs(settings: Any, auth: str) -> None:
    settings.FLOWER_ENABLED = True
    settings.FLOWER_BASIC_AUTH = auth
    cmd = command()

    children = cmd._children(OPTIONS)

    assert [child.name for child in children] == ["web", "worker", "beat"]
    error = cmd.stderr.getvalue()
    assert "Flower is not started" in error and "THEO_FLOWER_BASIC_AUTH=user:password" in error


def test_a_flower_that_exits_is_reported_and_theo_goes_on(settings: Any) -> None:
    """Only an essential child's exit stops everything: here the web one exits later, with 7."""
    cmd = command()
    cmd._stopping = False
    flower = Child("flower", [sys.executable, "-c", "raise SystemExit(3)"], essential=False)
    web = Child("web", [sys.executable, "-c", "import time; time.sleep(1.5); raise SystemExit(7)"])
    for child in (flower, web):
        child.process = subprocess.Popen(child.argv)

    assert cmd._supervise([flower, web]) == 7
    assert "The flower process exited with code 3." in cmd.stderr.getvalue()
    assert "The web process exited with code 7." in cmd.stderr.getvalue()
