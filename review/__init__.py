"""Review: overlays keyed by content hash, the queue, table edits, audit, and applying them in the nightly run."""
