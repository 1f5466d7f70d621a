"""Builds keywords.jsonl: for each paraphrase item, the query a reader who half-remembers the
verse types into a search box, its two or three rarest words (rarest by the index's own word
statistics, in the WEB wording). Same split as the paraphrase item; run it once against a
database with the Bibles loaded: `python -m bench.eval.make_keywords`."""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    from apps.core.embedded import ensure_services

    ensure_services()
    import django

    django.setup()
    from apps.index.models import Passage
    from apps.index.text_ranking import weighted_words

    out = []
    for line in (HERE / "paraphrase.jsonl").read_text().splitlines():
        item = json.loads(line)
        verse = Passage.objects.filter(source_kind="bible", translation="web", reference=item["refs"][0]).first()
        if verse is None:
            continue
        words = [w for w in dict.fromkeys(re.findall(r"[A-Za-z]+", verse.text)) if len(w) > 2]
        weighted = [(weighted_words(w), w) for w in words]
        ranked = sorted((ww[0].idf, w) for ww, w in weighted if ww)
        chosen = [w for _, w in ranked[-3:]] if len(verse.text.split()) > 12 else [w for _, w in ranked[-2:]]
        ordered = [w for w in words if w in chosen]
        out.append({"q": " ".join(ordered).lower(), "refs": item["refs"], "split": item["split"]})
    (HERE / "keywords.jsonl").write_text("".join(json.dumps(item) + "\n" for item in out))
    print(f"{len(out)} keyword queries")


if __name__ == "__main__":
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "theo.settings")
    main()
