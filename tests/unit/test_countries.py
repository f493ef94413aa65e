"""Country recognition: names (CLDR via Babel), demonyms and capitals in six languages, ISO 3166-1 alpha-2 codes."""

from __future__ import annotations

import pytest

from processors.classify import CountryOptions, explain_countries, find_countries

ALL = CountryOptions(min_evidence=0.0, min_share=0.0, max_countries=50)  # every mention, for form-level tests


@pytest.mark.parametrize(("language", "text"), [
    ("fr", "La Corée du Nord"), ("fr", "le dirigeant nord-coréen"), ("fr", "les responsables nord-coréennes"),
    ("fr", "à Pyongyang"), ("en", "North Korea"), ("en", "North Korean missiles"), ("de", "Nordkorea"),
    ("de", "die nordkoreanische Armee"), ("de", "in Pjöngjang"), ("es", "Corea del Norte"), ("es", "el régimen norcoreano"),
    ("it", "la Corea del Nord"), ("it", "i soldati nordcoreani"), ("pt", "a Coreia do Norte"), ("pt", "o líder norte-coreano"),
])
def test_north_korea_by_name_demonym_and_capital(language, text):
    assert find_countries(text, None, language, ALL) == ("KP",)


@pytest.mark.parametrize(("language", "text", "code"), [
    ("fr", "les États-Unis", "US"), ("fr", "les Etats-Unis", "US"), ("fr", "un responsable américain", "US"),
    ("en", "the US and", "US"), ("en", "the UK", "GB"), ("en", "British", "GB"), ("de", "Russland", "RU"),
    ("de", "die russischen Truppen", "RU"), ("de", "in Moskau", "RU"), ("es", "Rusia", "RU"), ("es", "los rusos", "RU"),
    ("es", "EE.UU.", "US"), ("it", "l'Ucraina", "UA"), ("it", "a Kiev", "UA"), ("pt", "a Ucrânia", "UA"),
    ("pt", "em Moscovo", "RU"), ("fr", "la RDC", "CD"), ("fr", "en Côte d’Ivoire", "CI"), ("en", "Ivory Coast", "CI"),
    ("de", "der Ukraine-Krieg", "UA"), ("fr", "l'Ukraine", "UA"), ("es", "Pekín", "CN"),
])
def test_names_demonyms_capitals(language, text, code):
    assert code in find_countries(text, None, language, ALL)


def test_case_rules_keep_common_words_out():
    assert find_countries("tell us what you want", None, "en", ALL) == ()  # "us" is not the US
    assert find_countries("a roast turkey for dinner", None, "en", ALL) == ()
    assert find_countries("The Washington Post reported it", None, "en", ALL) == ()
    assert find_countries("He moved to New Jersey", None, "en", ALL) == ()


def test_only_countries_the_article_is_about():
    text = ("Russia and Ukraine traded accusations. Moscow said Ukrainian forces shelled the city; Kyiv denied it. "
            "Russian officials met in Moscow. The talks, like those once held in Norway, failed.")
    found = find_countries(text, None, "en")
    assert found[:2] in (("RU", "UA"), ("UA", "RU"))
    assert "NO" not in found  # one passing mention
    mentions = {m.code: m for m in explain_countries(text, None, "en")}
    assert mentions["NO"].kept is False and mentions["RU"].kept is True
    assert ("Moscow", "capital", 2.0) in mentions["RU"].forms


def test_title_mention_counts_double_and_short_texts_keep_their_country():
    assert find_countries("Talks continue.", "Brazil votes", "en") == ("BR",)
    assert find_countries("Le président brésilien a parlé.", None, "fr") == ("BR",)


def test_codes_are_iso_alpha2_and_never_regions():
    text = "L'Union européenne, l'Europe, l'Afrique et le monde ; la France et l'Allemagne."
    found = find_countries(text, None, "fr", ALL)
    assert set(found) == {"FR", "DE"}
    assert all(len(c) == 2 and c.isupper() for c in found)


def test_und_and_other_languages_use_names_from_every_language():
    assert set(find_countries("Russie, Russland, Rusia, Russia", None, "und")) == {"RU"}
    assert "PL" in find_countries("Polen en Duitsland", None, "nl", ALL)  # Dutch names from CLDR
    assert find_countries("", None, None) == ()


def test_deterministic_order():
    text = "France, Germany, Germany, France, Spain, Spain, Spain."
    assert find_countries(text, None, "en") == ("ES", "DE", "FR")
