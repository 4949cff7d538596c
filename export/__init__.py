"""Export the enriched index as JSON, JSON Lines or Parquet (``ingest.py export``, the app's
export button).

Sits beside ``answer/``: it reads the index (``index/``) and renders crops with the answer
layer's Renderer; it never imports the pipeline runner, so the UI can call it directly.
``export.run.write_export`` is the one entry point; the format is ``docs/export-schema.json``.
"""

FORMAT_VERSION = "1.0"
SCHEMA_ID = f"urn:folio:export:{FORMAT_VERSION}"
FORMATS = ("json", "jsonl", "parquet")
IMAGE_MODES = ("none", "paths", "embed")
