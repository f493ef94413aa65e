"""Turning pages and texts into article text and metadata: HTML extraction and text normalisation."""
