"""Ingest: feed polling, page fetching and publishing raw articles to Kafka."""
