"""`make bench`: run Theo's benchmarks and print their figures (they are not tests).

python -m bench            # all
python -m bench ingest     # one (ingest, retrieval, scale, chat, load, ensemble, cache)
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "theo.settings")

import django

from apps.core.embedded import ensure_services

ensure_services()  # the embedded PostgreSQL and Redis, before Django is set up
django.setup()

from bench import cache, chat, ensemble, ingest, load, retrieval, scale  # noqa: E402

BENCHMARKS = {
    "ingest": ingest.main,
    "retrieval": retrieval.main,
    "scale": scale.main,
    "chat": chat.main,
    "load": load.main,
    "ensemble": ensemble.main,
    "cache": cache.main,
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"Unknown benchmark(s): {', '.join(unknown)}. Choose from: {', '.join(BENCHMARKS)}.")
        return 2
    for name in names:
        print(f"\n=== {name} ===")
        BENCHMARKS[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
