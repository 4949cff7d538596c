"""`ingest.py` commands: init (a pipeline for a folder, into the config file) and the
read-only ones over an index: status, search, eval, models."""
