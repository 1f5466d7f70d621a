"""The settings the embedded PostgreSQL runs with, chosen for search latency.

PostgreSQL's defaults suit a small machine of long ago: with 128 MB of shared buffers a
100k-passage index (about 450 MB with its HNSW graph) is copied in from the OS cache on
every search, and random_page_cost 4 (a spinning disk) makes the planner scan the whole
table rather than read the full-text GIN index. Measured on the latency benchmark at 100k
passages: the text ranking's p50 fell from 36 to 21 ms and the vector kNN's from 13 to 7.

Theo writes them to `theo.conf` in the data directory, included from postgresql.conf, so
they hold for every start; docker-compose.yml passes the same values as -c flags.
Settings import the module that imports this one: no Django imports.
"""

from __future__ import annotations

import os
from pathlib import Path

TUNING_FILE = "theo.conf"
INCLUDE_LINE = f"include_if_exists = '{TUNING_FILE}'\n"
MEGABYTE = 1024 * 1024
SHARED_BUFFERS_MB = (128, 1024)  # a quarter of the memory, within these bounds


def tuning(memory_bytes: int) -> dict[str, str]:
    """The settings for a machine with this much memory."""
    memory_mb = memory_bytes // MEGABYTE
    low, high = SHARED_BUFFERS_MB
    return {
        "shared_buffers": f"{min(max(memory_mb // 4, low), high)}MB",
        "effective_cache_size": f"{max(memory_mb // 2, low)}MB",
        "random_page_cost": "1.1",  # an SSD or the OS cache, not a spinning disk
        "jit": "off",  # compiling a query costs more than a search's whole budget
    }


def machine_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def write_tuning(pgdata: Path) -> bool:
    """Write theo.conf and include it from postgresql.conf; True if either changed (a
    running server applies shared_buffers only after a restart)."""
    wanted = "".join(f"{name} = '{value}'\n" for name, value in tuning(machine_memory()).items())
    settings_file, main_file = pgdata / TUNING_FILE, pgdata / "postgresql.conf"
    changed = not settings_file.exists() or settings_file.read_text() != wanted
    if changed:
        settings_file.write_text(wanted)
    config = main_file.read_text()
    if INCLUDE_LINE not in config:
        main_file.write_text(config + ("" if config.endswith("\n") else "\n") + INCLUDE_LINE)
        changed = True
    return changed
