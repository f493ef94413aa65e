"""newswire: shared records, settings, Kafka wiring, storage, metrics, service shell and CLI."""

__version__ = "0.1.0"
__all__ = ["__version__"]
