"""Property tests of the chrome cleaner: any text is cleaned without error, and cleaning only removes lines."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from processors.chrome.cleaner import strip_chrome
from processors.extraction.text import normalise_text
from tests.fuzz.strategies import text

_LINES = st.lists(st.one_of(text, st.sampled_from([
    "Partager sur Facebook", "Lire aussi : la réforme expliquée", "Par Jean Dupont", "© AFP", "Publié le 3 mars 2024",
    "Suivez-nous sur https://twitter.com/x", "Abonnez-vous", "#politique #retraites", "a@" + "a." * 200 + "!",
    "Le Parlement a adopté mardi la réforme des retraites après des mois de débats intenses et de grèves.",
])), max_size=12)


@given(_LINES, st.one_of(st.none(), text))
def test_cleaning_only_removes_lines(lines, title):
    source = normalise_text("\n\n".join(lines))
    result = strip_chrome(source, title=title, site_name=None, source="fuzz", authors=(), article_id="f" * 32,
                          memory=None)
    kept = [line for line in result.text.split("\n") if line.strip()]
    original = {line.strip() for line in source.split("\n")}
    assert all(line.strip() in original for line in kept)
    assert len(result.removals) + len(kept) <= len([line for line in source.split("\n") if line.strip()])
