"""Classification of article text: IPTC Media Topics with explanations, and the countries an article is about.

`tag_topics` / `explain_topics` score IPTC topics from weighted term lexicons (data/lexicon/*.tsv, plus IPTC labels
from data/iptc_mediatopics.json, © IPTC, CC BY 4.0); `find_countries` / `explain_countries` recognise countries from
CLDR names (Babel) and the demonym and capital lists in data/countries/. All data is loaded once, at first use.
"""

from processors.classify.countries import CountryMention, CountryOptions, explain_countries, find_countries
from processors.classify.lexicon import LEXICON_LANGUAGES
from processors.classify.topics import TopicEvidence, TopicOptions, explain_topics, normalise_language, tag_topics

__all__ = [
    "LEXICON_LANGUAGES",
    "CountryMention",
    "CountryOptions",
    "TopicEvidence",
    "TopicOptions",
    "explain_countries",
    "explain_topics",
    "find_countries",
    "normalise_language",
    "tag_topics",
]
