"""The size limits of docs/architecture.md ("Code shape"): no module of apps/ or theo/ over
MAX_MODULE_LINES lines, no function over MAX_FUNCTION_LINES. Run by `make lint`; prints
each offender and exits 1. Migrations are generated data, not code to read, so they are left out."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
ROOTS = ("apps", "theo")


def offences(path: Path) -> list[str]:
    source = path.read_text()
    found = []
    lines = source.count("\n")
    if lines > MAX_MODULE_LINES:
        found.append(f"{path}: {lines} lines (at most {MAX_MODULE_LINES})")
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{path}:{node.lineno} {node.name}(): {length} lines (at most {MAX_FUNCTION_LINES})")
    return found


def main() -> int:
    paths = sorted(p for root in ROOTS for p in Path(root).rglob("*.py") if "migrations" not in p.parts)
    found = [offence for path in paths for offence in offences(path)]
    print("\n".join(found) if found else f"code shape: {len(paths)} modules within the limits")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
