"""Topic tagging: IPTC codes and labels, scores, level-2 topics, explanations, languages and the stage adapter."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from newswire.records import RawArticle, utc_now
from processors.article import Article, article_from_raw
from processors.classify import LEXICON_LANGUAGES, explain_topics, tag_topics
from processors.classify.lexicon import DATA, taxonomy
from processors.classify.text import keys_of, positions, tokenize, words_and_keys
from processors.classify.topics import TopicOptions
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
    ("de", "07000000"): "Die Krankenhäuser behandeln mehr Patienten mit Grippe; Ärzte und Pflegekräfte raten zur Impfung.",
    ("de", "04000000"): "Die Inflation belastet die Unternehmen: Die Preise steigen und die Zentralbank erhöht die Zinsen.",
    ("de", "16000000"): "Die Armee startete eine Offensive; Raketen und Artillerie trafen die Truppen an der Front.",
    ("es", "15000000"): "El delantero marcó dos goles y el equipo ganó el partido de liga ante el club rival en el estadio.",
    ("es", "11000000"): "El Gobierno perdió la votación en el Parlamento y la oposición pide elecciones anticipadas al presidente.",
    ("es", "16000000"): "El ejército lanzó una ofensiva; los bombardeos y la artillería alcanzaron a las tropas en el frente.",
    ("it", "15000000"): "L'attaccante ha segnato due gol e la squadra ha vinto la partita di campionato allo stadio.",
    ("it", "07000000"): "Gli ospedali curano più pazienti con l'influenza; medici e infermieri chiedono di vaccinarsi.",
    ("it", "04000000"): "L'inflazione pesa sulle imprese: i prezzi salgono e la banca centrale alza i tassi di interesse.",
    ("pt", "11000000"): "O governo perdeu a votação no Parlamento e a oposição exige eleições antecipadas ao primeiro-ministro.",
    ("pt", "07000000"): "Os hospitais tratam mais doentes com gripe; médicos e enfermeiros pedem a vacinação contra a epidemia.",
    ("pt", "04000000"): "A inflação pesa sobre as empresas: os preços sobem e o banco central aumenta as taxas de juro.",
}

# Everyday words whose Snowball stem is also the stem of a lexicon term ("également" and "égalité", "para" and
# "paro", "parte" and "partito", "tornou" and "tornado"): none of them may count as topic evidence.
COMMON_WORDS = {
    "en": "I feel well and am trying to support a good and important experience; they share it.",
    "fr": "Il a également parlé environ une heure ; il sera là, comme il se doit, au cours du repas.",
    "de": "Im Osten war es ruhig, und sie waren froh darüber.",
    "es": "Para ella ha sido importante, bajo todas las circunstancias y por su parte.",
    "it": "Alle otto, da parte sua, era importante; nel tempo la porta restava aperta, in modo tranquillo.",
    "pt": "Cada um dos dois tornou-se, cerca de março, importante, e pode ser projeto principal.",
}


@pytest.mark.parametrize(("language", "code"), sorted(SAMPLES))
def test_top_topic_in_each_language(language, code):
    topics = tag_topics(SAMPLES[(language, code)], None, language)
    assert topics and topics[0].code == code, [(t.code, t.score) for t in topics]


@pytest.mark.parametrize("language", sorted(COMMON_WORDS))
def test_common_words_are_not_topic_evidence(language):
    assert explain_topics(COMMON_WORDS[language], None, language) == []


def test_lexicons_have_comparable_coverage():
    """Every language has terms for all 17 top-level topics, and no list is much thinner than the English one."""
    from processors.classify.lexicon import lexicon_for
    sizes = {}
    for language in ("en", "fr", "de", "es", "it", "pt"):
        lexicon = lexicon_for(language)
        entries = [e for bucket in lexicon.words.values() for e in bucket]
        entries += [e for bucket in lexicon.phrases.values() for _, e in bucket]
        entries += [e for bucket in lexicon.prefixes.values() for e in bucket]
        assert {taxonomy()[e.code]["top"] for e in entries} == TOP_LEVEL, language
        sizes[language] = len({e.term for e in entries})
    assert min(sizes.values()) >= 0.5 * sizes["en"], sizes


def test_one_text_word_counts_once_per_topic():
    # "législation", "législatives" and "législateurs" share a stem and sit under politics and two of its children
    evidence = {e.code: e for e in explain_topics("La législation a changé.", None, "fr")}
    assert len(evidence["11000000"].terms) == 1


def test_exact_terms_match_only_their_forms():
    assert "14000000" not in [e.code for e in explain_topics("Il est également venu.", None, "fr")]
    assert "14000000" in [e.code for e in explain_topics("L'égalité entre femmes et hommes.", None, "fr")]
    assert "09000000" not in [e.code for e in explain_topics("Es para todos.", None, "es")]
    assert "09000000" in [e.code for e in explain_topics("El paro sube.", None, "es")]


def test_armed_forces_are_also_politics_as_in_iptc():
    # IPTC files armed forces and national security under politics and government (20000598, via 20000593)
    codes = [t.code for t in tag_topics("Le ministre de la Défense a inspecté l'armée et les troupes.", None, "fr")]
    assert {"11000000", "16000000"} <= set(codes)


def test_french_words_sharing_a_term_stem_are_not_evidence():
    # s'insurger / insurgés, à peine / peine, finalement / finale, au fond / fonds, chiffres / chiffrement,
    # étudiés / étudiants, inclus / inclusion, s'occuper / occupé, soir / soirée, demander / demande
    text = ("Il s'insurge, à peine remis ; finalement, au fond, les chiffres qu'il a étudiés sont inclus et il s'en "
            "occupe ce soir, comme il le demande.")
    assert explain_topics(text, None, "fr") == []


_ACTOR_TITLE = "RD Congo : le président kényan demande le déploiement d'une force régionale"
_ACTOR_TEXT = ("Le président kényan a demandé le déploiement d'une force régionale dans l'est de la RD Congo, où les "
               "rebelles ont repris les combats contre l'armée. Les bombardements et les affrontements ont fait des "
               "dizaines de morts et des milliers de déplacés, selon les Nations unies.")


def test_political_actors_in_the_subject_outrank_conflict():
    # IPTC: a government's response to a war is politics; without the actor rule the violence words win
    assert tag_topics(_ACTOR_TEXT, _ACTOR_TITLE, "fr", TopicOptions(actor_weight=0))[0].code == "16000000"
    assert tag_topics(_ACTOR_TEXT, _ACTOR_TITLE, "fr")[0].code == "11000000"
    politics = explain_topics(_ACTOR_TEXT, _ACTOR_TITLE, "fr")[0]
    assert ("président (subject)", 2, 6.0) in politics.terms


def test_reports_of_fighting_stay_conflict_when_an_official_is_quoted():
    title = "Des rebelles attaquent une ville dans l'est de la RD Congo"
    text = ("Des rebelles lourdement armés ont attaqué la ville à l'aube. Les combats avec l'armée ont duré six heures ; "
            "les bombardements et les tirs d'artillerie ont fait vingt morts parmi les soldats et les civils, selon un "
            "bilan provisoire. Les insurgés ont incendié des maisons avant de se replier. Dans la soirée, le ministre "
            "de l'Intérieur a dénoncé une attaque terroriste.")
    assert tag_topics(text, title, "fr")[0].code == "16000000"
    # the actor rule only weighs in when conflict leads: an election article is untouched by it
    election = "Les électeurs ont voté dimanche ; le candidat de l'opposition conteste le scrutin présidentiel."
    assert explain_topics(election, None, "fr") == explain_topics(election, None, "fr", TopicOptions(actor_weight=0))


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


def test_explanations_are_the_same_in_every_process():
    # Entries sharing a word ("senator", "senate"; "trade", "trading") tie: the one named must not depend on where
    # the lexicon happened to sit in memory. Each run allocates a different amount before loading it.
    code = ("import sys; padding = [object() for _ in range(int(sys.argv[1]))]\n"
            "from processors.classify import explain_topics\n"
            "print(repr(explain_topics('The senator spoke in the senate. Senators and the senate voted on the trading "
            "and trade deal; soldiers and a soldier signed.', None, 'en')))\n")
    root = Path(__file__).resolve().parents[2]
    outputs = {subprocess.run([sys.executable, "-c", code, str(n)], capture_output=True, text=True, check=True,
                              cwd=root).stdout for n in (0, 7, 1000, 100_000)}
    assert len(outputs) == 1 and "senat" in outputs.pop()


def test_words_and_keys_are_the_tokens():
    text = SAMPLES[("fr", "16000000")] + " Nord-coréennes, l'Ukraine."
    words, keys = words_and_keys(text, "fr")
    assert list(zip(words, keys)) == [(t.word, t.key) for t in tokenize(text, "fr")]
    assert "nord-coréennes" not in words and "Nord-coréennes" in words and keys_of("nord-coréen", "fr")[0] in keys


def test_positions_test_each_distinct_word_once():
    calls: list[str] = []

    def capitalised(word: str) -> bool:
        calls.append(word)
        return word[0].isupper()

    cache: dict[str, bool] = {}
    words = ("Paris", "is", "Paris", "and", "Rome")
    assert list(positions(words, capitalised, cache)) == [0, 2, 4]
    assert sorted(calls) == ["Paris", "Rome", "and", "is"]
    assert list(positions(words, capitalised, cache)) == [0, 2, 4] and len(calls) == 4  # remembered
