"""The enrichment cache of an index on object storage travels with the index.

Captions and summaries are the expensive part of a run (minutes per document with the
default model), and the cache that keeps them is a SQLite file on the machine that ran
the job (``~/.cache/folio/remote/...`` for a remote index). When the nightly run moves
to another machine, or runs from a fresh container, it would make them all again. So a
run on a remote index that has documents to process first merges the index's shared
copy (``cache/enrich_cache.sqlite`` beside the tables) into its local cache, and at its
end uploads the merged cache if it holds anything the shared copy lacks. Only the run
holding the run lock writes it; the app never does.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from enrich.cache import EnrichCache
    from folio.storage import Blobs

log = logging.getLogger(__name__)

KEY = "cache/enrich_cache.sqlite"


class SharedCache:
    def __init__(self, blobs: Blobs, cache: EnrichCache) -> None:
        self.blobs, self.cache = blobs, cache
        self._writes: int | None = None  # the cache's write count after the pull
        self._ahead = False  # the local cache held entries the shared copy lacked

    def pull(self) -> int:
        """Merge the shared copy into the local cache; returns the entries it added."""
        data = self.blobs.read(KEY)
        added, shared = self.cache.merge(data) if data else (0, 0)
        self._ahead = self.cache.count() > shared
        self._writes = self.cache.writes
        if added:
            log.info("enrichment cache: %d entries from the index's shared copy", added)
        return added

    def push(self) -> bool:
        """Upload the local cache if it holds what the shared copy lacks (after ``pull``)."""
        if self._writes is None or not (self._ahead or self.cache.writes > self._writes):
            return False
        self.blobs.write(KEY, self.cache.dump())
        self._writes, self._ahead = self.cache.writes, False
        return True
