"""Topic tagging: IPTC codes and labels, scores, level-2 topics, explanations, languages and the stage adapter."""

from __future__ import annotations

import json
import uuid

import pytest

from newswire.records import RawArticle, utc_now
from processors.article import Article, article_from_raw
from processors.classify import LEXICON_LANGUAGES, explain_topics, tag_topics
from processors.classify.lexicon import DATA, taxonomy
from processors.stages.topics import TagTopics

TOP_LEVEL = {f"{n:02d}000000" for n in range(1, 18)}

# One short news paragraph per language and topic: general vocabulary, written for these tests.
SAMPLES = {
    ("en", "15000000"): "The striker scored twice as the club won the league match, and the coach praised the squad.",
    ("en", "11000000"): "The prime minister faces a vote in parliament after opposition MPs criticised the government's election plans.",
    ("en", "07000000"): "Hospital waiting lists grew as nurses and doctors treated more patients with the virus, the NHS said.",
    ("fr", "15000000"): "L'attaquant a marqué deux buts et son équipe a remporté le match du championnat face au club rival.",
    ("fr", "04000000"): "L'inflation pèse sur les entreprises : les prix de l'énergie montent et la banque centrale relève ses taux d'intérêt.",
    ("fr", "16000000"): "L'armée a lancé une offensive ; les bombardements et les tirs d'artillerie ont visé les troupes ennemies.",
    ("de", "15000000"): "Der Stürmer erzielte zwei Tore, die Mannschaft gewann das Bundesliga-Spiel und der Trainer lobte das Team.",
    ("de", "11000000"): "Die Bundesregierung will das Gesetz ändern; die Opposition im Bundestag kritisierte den Kanzler vor der Wahl.",
    ("es", "07000000"): "Los hospitales atienden a más pacientes con gripe; los médicos piden vacunarse ante la epidemia.",
    ("es", "04000000"): "La inflación golpea a las empresas: los precios suben y el banco central eleva los tipos de interés.",
    ("it", "11000000"): "Il governo ha perso il voto in Parlamento; l'opposizione chiede le dimissioni del premier prima delle elezioni.",
    ("it", "13000000"): "L'azienda ha presentato un nuovo smartphone con intelligenza artificiale e un chip più veloce per le app.",
    ("pt", "15000000"): "O avançado marcou dois golos e a equipa venceu o jogo do campeonato diante do clube rival.",
    ("pt", "16000000"): "O exército lançou uma ofensiva; bombardeamentos e artilharia atingiram as tropas na linha da frente.",
}


@pytest.mark.parametrize(("language", "code"), sorted(SAMPLES))
def test_top_topic_in_each_language(language, code):
    topics = tag_topics(SAMPLES[(language, code)], None, language)
    assert topics and topics[0].code == code, [(t.code, t.score) for t in topics]


def test_lexicons_cover_the_six_languages():
    assert {"en", "fr", "de", "es", "it", "pt"} <= set(LEXICON_LANGUAGES)


def test_topics_are_iptc_codes_with_labels_and_sorted_scores():
    topics = tag_topics(SAMPLES[("en", "11000000")] * 3, "Election vote in parliament", "en")
    table = taxonomy()
    assert [t.score for t in topics] == sorted((t.score for t in topics), reverse=True)
    for topic in topics:
        assert topic.code in table and 0.0 <= topic.score <= 1.0
        assert topic.label == table[topic.code]["labels"]["en"]
    assert topics[0].code == "11000000" and topics[0].label == "politics and government"


def test_level2_topics_need_strong_evidence_and_their_parent():
    strong = ("Voters go to the polls in the general election. Candidates campaigned for every vote; the ballot "
              "closes tonight and turnout in each constituency is high, polls say. The referendum follows.")
    codes = [t.code for t in tag_topics(strong, "Election day", "en")]
    assert "20000574" in codes and "11000000" in codes  # election, under politics
    weak = [t.code for t in tag_topics("The vote was close.", None, "en")]
    assert "20000574" not in weak
    for code in codes:
        assert code in TOP_LEVEL or taxonomy()[code]["top"] in codes


def test_explain_names_the_terms_behind_each_topic():
    evidence = explain_topics(SAMPLES[("fr", "16000000")], None, "fr")
    top = evidence[0]
    assert top.code == "16000000" and top.level == 1 and top.score > 0
    terms = {term for term, _, _ in top.terms}
    assert {"armée", "offensive"} <= terms
    assert abs(top.evidence - sum(c for _, _, c in top.terms)) < 0.05


def test_title_counts_more_than_body():
    body = "The team played well. The government announced a plan."
    assert tag_topics(body, "Prime minister wins the vote in parliament", "en")[0].code == "11000000"
    assert tag_topics(body, "Striker scores in the cup final", "en")[0].code == "15000000"


def test_acronyms_and_proper_nouns_need_their_case():
    assert not tag_topics("who said what to whom", None, "en")  # not the WHO
    assert tag_topics("The WHO declared a pandemic as the virus spread to hospitals.", None, "en")[0].code == "07000000"
    assert "13000000" not in [t.code for t in tag_topics("Rendez-vous le 3 mars.", None, "fr")]


def test_und_and_unknown_languages_degrade_gracefully():
    assert tag_topics("", None, "und") == ()
    assert tag_topics("12345 !!!", None, None) == ()
    und = tag_topics("Fußball: Der Trainer lobte die Mannschaft nach dem Bundesliga-Spiel und dem Tor.", None, "und")
    assert und and und[0].code == "15000000"
    nl = tag_topics("De voetbalclub won de Champions League finale in het stadion; de trainer en de spelers vierden.",
                    None, "nl")
    assert nl and nl[0].code == "15000000"
    assert tag_topics(SAMPLES[("pt", "15000000")], None, "pt-BR")[0].code == "15000000"


def test_deterministic():
    text = SAMPLES[("es", "04000000")]
    assert tag_topics(text, None, "es") == tag_topics(text, None, "es")


def test_taxonomy_data_carries_the_iptc_attribution():
    document = json.loads((DATA / "iptc_mediatopics.json").read_text(encoding="utf-8"))
    assert "CC BY 4.0" in document["attribution"]["licence"] and "IPTC" in document["attribution"]["copyright"]
    levels = {code for code, t in document["topics"].items() if t["level"] == 1}
    assert levels == TOP_LEVEL


def _article(text, title=None, language="en") -> Article:
    raw = RawArticle(raw_id=uuid.uuid4().hex, url=f"https://example.com/{uuid.uuid4().hex}", source="test",
                     fetched_at=utc_now(), content_type="text/plain", body=text)
    from dataclasses import replace
    return replace(article_from_raw(raw), text=text, title=title, language=language)


def test_stage_sets_topics_and_countries_without_mutating():
    article = _article("Russian troops shelled Kyiv as the war in Ukraine went on; Moscow denied the attack. "
                       "Ukrainian soldiers held the front line near the Russian border.", "War in Ukraine")
    stage = TagTopics()
    result = stage(article)
    assert stage.name == "topics"
    assert result.topics[0].code == "16000000"
    assert [t.score for t in result.topics] == sorted((t.score for t in result.topics), reverse=True)
    assert set(result.countries) >= {"UA", "RU"}
    assert article.topics == () and article.countries == ()


def test_stage_handles_missing_text_and_language():
    result = TagTopics()(_article("", None, None))
    assert result.topics == () and result.countries == ()
