"""The embedded PostgreSQL's settings: sized to the machine, written once, applied."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.core.embedded_tuning import INCLUDE_LINE, MEGABYTE, TUNING_FILE, machine_memory, tuning, write_tuning


def test_shared_buffers_take_a_quarter_of_the_memory_within_bounds():
    assert tuning(256 * MEGABYTE)["shared_buffers"] == "128MB"
    assert tuning(2048 * MEGABYTE)["shared_buffers"] == "512MB"
    assert tuning(24 * 1024 * MEGABYTE)["shared_buffers"] == "1024MB"
    assert tuning(24 * 1024 * MEGABYTE)["effective_cache_size"] == "12288MB"


def test_the_settings_are_written_and_included_once(tmp_path):
    (tmp_path / "postgresql.conf").write_text("max_connections = 100")
    assert write_tuning(tmp_path) is True
    assert write_tuning(tmp_path) is False  # nothing changed: no restart needed
    config = (tmp_path / "postgresql.conf").read_text()
    assert config == "max_connections = 100\n" + INCLUDE_LINE
    written = (tmp_path / TUNING_FILE).read_text()
    assert "random_page_cost = '1.1'\n" in written
    assert f"shared_buffers = '{tuning(machine_memory())['shared_buffers']}'\n" in written


def test_changed_settings_are_written_again(tmp_path):
    (tmp_path / "postgresql.conf").write_text(INCLUDE_LINE)
    (tmp_path / TUNING_FILE).write_text("shared_buffers = '128MB'\n")
    assert write_tuning(tmp_path) is True
    assert "jit = 'off'" in (tmp_path / TUNING_FILE).read_text()


@pytest.mark.django_db
def test_the_tests_database_server_runs_with_them():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('random_page_cost'), current_setting('jit')")
        assert cursor.fetchone() == ("1.1", "off")
