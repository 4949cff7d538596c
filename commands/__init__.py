"""Read-only `ingest.py` commands over an index: status, search, eval, models."""
