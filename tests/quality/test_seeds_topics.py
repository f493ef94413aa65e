"""Quality gate on the five French seed texts (one story: Russia buys North Korean munitions for its war in Ukraine).

Per the issue: every seed is tagged conflict, war and peace (16000000) and politics (11000000); the countries
include Russia, North Korea and Ukraine in every seed, and the United States across the set (one seed names it
only twice, in passing, so it is rightly not a country that seed is about).
"""

from __future__ import annotations

import json

import pytest

from processors.classify import find_countries, tag_topics
from processors.classify.evaluation import shared_folder

pytestmark = pytest.mark.quality

SEEDS = shared_folder() / "fixtures" / "seeds"


def _seeds() -> dict[str, tuple[str, str]]:
    if not (SEEDS / "expected.json").is_file():
        return {}
    expected = json.loads((SEEDS / "expected.json").read_text(encoding="utf-8"))
    return {name: ((SEEDS / name).read_text(encoding="utf-8"), meta["language"]) for name, meta in expected.items()}


SEED_TEXTS = _seeds()


def test_seeds_are_there():
    if not SEED_TEXTS:
        pytest.skip("shared seeds not found (set NEWSWIRE_SHARED)")
    assert len(SEED_TEXTS) == 5 and {lang for _, lang in SEED_TEXTS.values()} == {"fr"}


@pytest.mark.parametrize("name", sorted(SEED_TEXTS))
def test_seed_topics_include_conflict_and_politics(name):
    text, language = SEED_TEXTS[name]
    codes = [t.code for t in tag_topics(text, None, language)]
    print(f"\n{name}: {codes}")
    assert {"16000000", "11000000"} <= set(codes)


@pytest.mark.parametrize("name", sorted(SEED_TEXTS))
def test_seed_countries_include_russia_north_korea_ukraine(name):
    text, language = SEED_TEXTS[name]
    countries = find_countries(text, None, language)
    print(f"\n{name}: {countries}")
    assert {"RU", "KP", "UA"} <= set(countries)


def test_seed_countries_include_the_united_states_across_the_set():
    if not SEED_TEXTS:
        pytest.skip("shared seeds not found (set NEWSWIRE_SHARED)")
    found = [set(find_countries(text, None, language)) for text, language in SEED_TEXTS.values()]
    assert {"RU", "KP", "UA", "US"} <= set().union(*found)
    assert sum("US" in countries for countries in found) >= 4
