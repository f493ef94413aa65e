"""The processing stages, one module each; `processors.pipeline` puts them in order."""
