"""Regenerate `data/iptc_mediatopics.json` from the IPTC Media Topics releases in `shared/datasets/iptc-mediatopics/`.

Run `python -m processors.classify.build_taxonomy [SHARED_DIR]` after a new IPTC release lands in the shared folder.
The output keeps what tagging needs: every current (not retired) concept with its level, its level-1 and level-2
ancestors and its English and French labels. The vocabulary is © IPTC, licensed CC BY 4.0; the attribution is
written into the file.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

__all__ = ["build", "main"]

ENGLISH_RELEASE = "cptall-en-GB_2025-10-09.json"
FRENCH_RELEASE = "cptall-fr_2022-02-03.json"
OUTPUT = Path(__file__).with_name("data") / "iptc_mediatopics.json"

ATTRIBUTION = {
    "source": "IPTC Media Topics, https://iptc.org/standards/media-topics/",
    "copyright": "© IPTC, International Press Telecommunications Council - https://iptc.org",
    "licence": "Creative Commons Attribution 4.0 International (CC BY 4.0), https://creativecommons.org/licenses/by/4.0/",
    "changes": "Derived: retired concepts dropped; codes, levels, ancestors and en/fr labels kept; definitions left out.",
}


def _code(qcode_or_uri: str) -> str:
    return qcode_or_uri.rsplit("/", 1)[-1].removeprefix("medtop:")


def _concepts(path: Path) -> dict[str, dict]:
    return {_code(c["qcode"]): c for c in json.loads(path.read_text(encoding="utf-8"))["conceptSet"]}


def build(shared: Path) -> dict:
    """The derived taxonomy document built from the IPTC releases under `shared`."""
    folder = shared / "datasets" / "iptc-mediatopics"
    english, french = _concepts(folder / ENGLISH_RELEASE), _concepts(folder / FRENCH_RELEASE)
    current = {code: c for code, c in english.items() if "retired" not in c}
    parent = {code: _code(c["broader"][0]) for code, c in current.items() if c.get("broader")}

    def chain(code: str) -> list[str]:
        path = [code]
        while path[-1] in parent and len(path) < 10:
            path.append(parent[path[-1]])
        return path[::-1]

    topics = {}
    for code, concept in sorted(current.items()):
        path = chain(code)
        if path[0] not in current or parent.get(path[0]):
            continue
        labels = {"en": concept["prefLabel"].get("en-GB", "")}
        fr = french.get(code, {}).get("prefLabel", {}).get("fr")
        if fr:
            labels["fr"] = fr
        topics[code] = {
            "level": len(path),
            "top": path[0],
            "level2": path[1] if len(path) > 1 else None,
            "labels": labels,
        }
    return {"attribution": ATTRIBUTION, "releases": [ENGLISH_RELEASE, FRENCH_RELEASE], "topics": topics}


def main(argv: list[str] | None = None) -> int:
    """Write the derived taxonomy file; the shared folder comes from the argument, NEWSWIRE_SHARED or ../shared."""
    argv = sys.argv[1:] if argv is None else argv
    default = Path(__file__).resolve().parents[2].parent / "shared"
    shared = Path(argv[0] if argv else os.environ.get("NEWSWIRE_SHARED", default))
    document = build(shared)
    OUTPUT.write_text(json.dumps(document, ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(document['topics'])} topics to {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
