"""Stage `topics`: IPTC Media Topics (level 1, and level 2 where the evidence is strong) and countries, by language."""

from __future__ import annotations

from dataclasses import dataclass, replace

from processors.article import Article, StageResult
from processors.classify import CountryOptions, TopicOptions, find_countries, tag_topics

__all__ = ["TagTopics", "TopicsStageOptions"]


@dataclass(frozen=True)
class TopicsStageOptions:
    """Tunables of the topics stage: those of topic tagging and of country recognition."""

    topics: TopicOptions = TopicOptions()
    countries: CountryOptions = CountryOptions()


class TagTopics:
    """Sets `topics` (by score, descending) and `countries` from the title and text in the article's language."""

    name = "topics"

    def __init__(self, options: TopicsStageOptions = TopicsStageOptions()) -> None:
        self.options = options

    def __call__(self, article: Article) -> StageResult:
        text = article.text or ""
        language = article.language or "und"
        return replace(
            article,
            topics=tag_topics(text, article.title, language, self.options.topics),
            countries=find_countries(text, article.title, language, self.options.countries),
        )
