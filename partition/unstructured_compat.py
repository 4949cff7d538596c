"""Make unstructured safe to use offline.

unstructured's tokenizer (``unstructured.nlp.tokenize._load_spacy_model`` in 0.18+/0.27)
downloads ``en_core_web_sm`` on first use; offline that fails and the partitioners then
silently return no elements. We swap in a local pipeline (blank English + sentencizer),
which is all its sentence splitting needs. POS tags are empty with a blank pipeline, so
unstructured's verb-based narrative/title guesses are weaker; callers map categories
with that in mind.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from folio.offline import enforce_offline

log = logging.getLogger(__name__)

_lock = threading.Lock()
_prepared = False


def _local_spacy_pipeline() -> Any:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def prepare_unstructured() -> None:
    """Idempotent: switch every library offline and patch unstructured's spaCy loader."""
    global _prepared
    enforce_offline()
    # unstructured prints an advert to stdout, which would corrupt `ingest.py partition --json`.
    os.environ["UNSTRUCTURED_DISABLE_NOTICE"] = "1"
    with _lock:
        if _prepared:
            return
        from unstructured.nlp import tokenize

        tokenize._load_spacy_model = _local_spacy_pipeline
        # A model cached before the patch (by an earlier import) must not be reused.
        tokenize._get_nlp.cache_clear()
        _prepared = True
        log.debug("unstructured prepared: offline, local spaCy sentencizer")
