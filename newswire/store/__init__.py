"""Storage: articles, duplicates, the dedupe keys and feed state, in SQLite (default) or PostgreSQL."""

from newswire.store.database import Database, StoreUnavailable, sqlite_path_of
from newswire.store.store import ArticleWrite, FeedState, Store, open_store

__all__ = ["ArticleWrite", "Database", "FeedState", "Store", "StoreUnavailable", "open_store", "sqlite_path_of"]
