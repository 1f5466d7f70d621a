#!/usr/bin/env python
"""Django's command-line utility for Theo."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "theo.settings")
    from apps.core.embedded import command_needs_services, ensure_services

    if command_needs_services(sys.argv):
        ensure_services()  # the embedded PostgreSQL and Redis, before Django is set up
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
