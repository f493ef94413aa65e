"""Processing: the stages that turn raw articles into clean records, the pipeline, and the worker loop."""
