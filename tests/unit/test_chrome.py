"""Unit tests of the chrome cleaner: general signals, phrase files, bylines, titles, template memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.chrome import (ChromeOptions, InMemoryTemplateMemory, line_hash, normalise_authors,
                               strip_chrome)


def _reasons(text: str, **kwargs) -> dict[str, str]:
    return {r.line: r.reason for r in strip_chrome(text, **kwargs).removals}


PROSE = ("The minister said on Tuesday that the new rules would apply from next year, after months of talks "
         "with the unions and the employers.")


@pytest.mark.parametrize("line, reason", [
    ("Lire aussi  Frapper les livres : les femmes qui ont fait d'ENIAC plus qu'une arme", "related_link"),
    ("Read more: Alibaba poised to launch record-breaking listing", "related_link"),
    ("Lesen Sie auch: Die Regierung plant neue Steuern", "related_link"),
    ("Leer también: El Gobierno aprueba el presupuesto", "related_link"),
    ("Leggi anche: Il governo approva la manovra", "related_link"),
    ("Leia também: Governo aprova orçamento", "related_link"),
    ("Lees ook: Kabinet presenteert begroting", "related_link"),
    ("Czytaj także: Rząd przyjął budżet", "related_link"),
    ("ADVERTISEMENT", "ad_label"),
    ("Anzeige", "ad_label"),
    ("Facebook", "share_buttons"),
    ("Leave a Comment", "comment_widget"),
    ("This site uses Akismet to reduce spam. Learn how your comment data is processed.", "comment_widget"),
    ("” Précédent", "prev_next_nav"),
    ("Entendre", "audio_player"),
    ("Apprenez à connaître le projet Trust", "trust_badge"),
    ("Subscribe to the Morning Review newsletter", "newsletter_prompt"),
    ("Mot de passe oublié ?", "login_prompt"),
    ("We use cookies to improve your experience.", "cookie_notice"),
    ("-", "separator"),
    ("| PREUVE 1, MONDE |", "section_label"),
    ("Tempo de leitura: 2 minutos", "reading_time"),
    ("Follow Newsbeat on Instagram, Facebook, Twitter and YouTube.", "social_follow"),
    ("Copyright ©2019 Dow Jones & Company, Inc. All Rights Reserved", "copyright"),
    ("sexta-feira, 22 de outubro de 2010 às 20:13", "dateline"),
    ("China furious at Macron for Hong Kong protest jibe [INSIGHT]", "related_link"),
])
def test_line_rules(line: str, reason: str) -> None:
    assert _reasons(f"{PROSE}\n\n{line}\n\n{PROSE} Again.")[line] == reason


@pytest.mark.parametrize("line", [
    "More Americans are turning to public transport, the survey found, as fuel prices keep rising.",
    "He said on Twitter that the company would appeal the decision.",
    "The company said in a newsletter to investors that sales rose by 4% in the quarter.",
    "Follow the money, investigators say, and the trail leads to three shell companies in Cyprus.",
    "By the end of the year, the plant will employ 400 people.",
    "Amar Nadhir a contribué à ce rapport.",
    "VOLKSWAGEN ID. SPACE VIZZION CONCEPT",
    "10 p.m.",
])
def test_article_lines_stay(line: str) -> None:
    assert line not in _reasons(f"{PROSE}\n\n{line}\n\n{PROSE} Again.")


def test_caption_with_glued_or_trailing_credit() -> None:
    glued = ("Vladimir Poutine et Kim Jong-un se rapprochent depuis un certain temps pour renforcer leurs liens "
             "afin d’accroître la capacité militaire de la Russie.GETTY")
    trailing = ("Le dirigeant nord-coréen assiste à une réunion à Pyongyang, en juin 2022. Agence de presse "
                "centrale coréenne/Korea News Service via AP, fichier")
    reasons = _reasons(f"{PROSE}\n\n{glued}\n\n{trailing}\n\n{PROSE} Again.")
    assert reasons[glued] == reasons[trailing] == "photo_caption"


def test_byline_goes_to_authors_and_translation_credit_goes() -> None:
    result = strip_chrome(f"{PROSE}\n\nPar CHOE SANG-HUN\n\nTraduction de Jaime Arrambide", title="T")
    assert result.authors == ("Choe Sang-Hun",)
    assert result.counts == {"byline": 1, "translation_credit": 1}
    assert result.text == PROSE


def test_title_from_first_line_and_repeats_removed() -> None:
    title = "La Russie à court de munitions appelle à l'aide la Corée du Nord"
    result = strip_chrome(f"{title}\n\n{PROSE}\n\n{title}")
    assert result.title == title
    assert result.text == PROSE
    assert [r.reason for r in result.removals] == ["title", "repeated_title"]


def test_site_name_line_above_a_repeated_title() -> None:
    title = "Etats-Unis : la Russie va acheter des roquettes à la Corée du Nord"
    result = strip_chrome(f"Nouvelles Du Monde\n\n{title}\n\n{title}\n\n{PROSE}")
    assert result.title == title
    assert result.counts == {"site_name": 1, "title": 1, "repeated_title": 1}


def test_a_first_sentence_is_not_a_title() -> None:
    assert strip_chrome(f"{PROSE}\n\n{PROSE} Again.").title is None


def test_known_title_variant_at_the_top_is_removed() -> None:
    result = strip_chrome(f"Julian Assange: Sweden drops rape investigation\n\n{PROSE}",
                          title="Sweden drops Assange rape investigation")
    assert result.counts == {"repeated_title": 1}


def test_tag_list_is_told_from_a_subheading_by_word_order() -> None:
    body = ("La Russie achète des obus à la Corée du Nord pour sa guerre en Ukraine. " * 2).strip()
    tags = "Russie Ukraine Guerre Corée du Nord"
    assert _reasons(f"{body}\n\n{tags}\n\n{body}")[tags] == "tag_list"
    product = "Apple AirPods Pro Wireless Charging"
    prose = "The Apple AirPods Pro Wireless Charging case is sold separately, the company said."
    assert product not in _reasons(f"{prose}\n\n{product}\n\n{prose}")


def test_headline_list_after_a_header_and_at_the_end() -> None:
    text = (f"{PROSE}\n\nDON'T MISS\n\nPlague warning: CDC names eight deadly diseases\n\n"
            f"Passengers quarantined after outbreak on plane\n\n{PROSE} Again.\n\n"
            "Jonas Brothers Added to 2019 American Music Awards Lineup\n\n"
            "Ciara to Host 2019 American Music Awards, Plus New Performers")
    reasons = _reasons(text)
    assert list(reasons.values()).count("related_link") == 5


def test_template_lines_learned_per_source() -> None:
    memory = InMemoryTemplateMemory()
    footer = "Le Petit Journal, votre quotidien régional depuis 1902"
    texts = [f"{PROSE} Story {i}.\n\n{footer}" for i in range(4)]
    results = [strip_chrome(t, title="T", source="petit", article_id=f"a{i}", memory=memory)
               for i, t in enumerate(texts)]
    assert [r.counts.get("template", 0) for r in results] == [0, 0, 1, 1]
    # Re-processing an article does not count it twice; another source has its own memory.
    assert memory.observe("petit", "a0", [line_hash(footer)]) == {line_hash(footer): 4}
    assert memory.observe("other", "b0", [line_hash(footer)]) == {line_hash(footer): 1}


def test_template_memory_never_eats_a_syndicated_copy() -> None:
    memory = InMemoryTemplateMemory()
    body = f"{PROSE}\n\n{PROSE} Two.\n\n{PROSE} Three."
    for i in range(5):
        result = strip_chrome(body, title="T", source="wire", article_id=f"c{i}", memory=memory)
    assert result.text == body


def test_template_memory_is_bounded() -> None:
    memory = InMemoryTemplateMemory(cap=2, max_entries=3)
    for i in range(10):
        memory.observe("s", "a", [f"h{i}"])
    counts = memory.observe("s", "b", ["h9"])
    assert counts == {"h9": 2}
    assert len(memory._seen) <= 3


def test_line_hash_ignores_case_spacing_and_punctuation() -> None:
    assert line_hash("Read  more, here!") == line_hash("read more here")


def test_normalise_authors() -> None:
    assert normalise_authors(["By TOM KRISHER, AP Auto Writer", "tom krisher", "Jean de la Fontaine"]) == (
        "Tom Krisher", "Jean de la Fontaine")


def test_phrase_files_are_data(tmp_path: Path) -> None:
    (tmp_path / "xx.yaml").write_text("ad_label:\n  whole: [reklaami]\nfunction_words: [ja]\n", encoding="utf-8")
    result = strip_chrome(f"{PROSE}\n\nREKLAAMI", options=ChromeOptions(phrase_dir=tmp_path))
    assert result.counts == {"ad_label": 1}


def test_every_language_file_has_the_core_reasons() -> None:
    import yaml

    from processors.chrome import PHRASE_DIR

    for language in ("en", "fr", "de", "es", "it", "pt", "nl", "pl"):
        data = yaml.safe_load((PHRASE_DIR / f"{language}.yaml").read_text(encoding="utf-8"))
        for key in ("related_link", "share_buttons", "comment_widget", "ad_label", "newsletter_prompt",
                    "login_prompt", "cookie_notice", "prev_next_nav", "audio_player", "byline",
                    "translation_credit", "function_words"):
            assert data.get(key), f"{language}.yaml lacks {key}"
