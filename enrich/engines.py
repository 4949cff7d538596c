"""The models the enrichment stage may use, loaded only when a cache miss needs them.

Model ids (name@sha12) are known from the verified files without loading anything, so
a re-run that finds everything in the cache never pays for a model load.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from folio.config import ModelSettings
from folio.models import ModelFile, resolve_llm, resolve_vlm

if TYPE_CHECKING:
    from folio.llm import LocalLLM, VisionLLM

log = logging.getLogger(__name__)


def _rapidocr_text(png: bytes) -> str:
    from folio.ocr import ocr_image

    return "\n".join(b.text for b in ocr_image(png) if b.text.strip())


class EnrichModels:
    def __init__(
        self,
        settings: ModelSettings,
        llm_file: ModelFile | None,
        vlm_files: tuple[ModelFile, ModelFile] | None = None,
        ocr: Callable[[bytes], str] | None = None,
    ) -> None:
        self.settings = settings
        self.llm_file = llm_file
        self.vlm_files = vlm_files
        self._ocr = ocr or _rapidocr_text
        self.ocr_calls = 0

    @classmethod
    def from_settings(cls, settings: ModelSettings, *, need_llm: bool = True) -> EnrichModels:
        """Resolve and verify (cheaply, via the hash record) the configured files.
        Raises folio.models.ModelError naming what is missing and how to get it."""
        llm_file = resolve_llm(settings) if need_llm else None
        return cls(settings, llm_file, resolve_vlm(settings))

    @property
    def llm_id(self) -> str | None:
        return self.llm_file.model_id if self.llm_file else None

    @property
    def vlm_id(self) -> str | None:
        if self.vlm_files is None:
            return None
        return f"{self.vlm_files[0].model_id}+{self.vlm_files[1].model_id}"

    def llm(self) -> LocalLLM:
        from folio.llm import load_llm
        from folio.models import ModelError

        if self.llm_file is None:
            raise ModelError("no LLM configured for enrichment (models.llm)")
        return load_llm(self.llm_file, n_ctx=self.settings.n_ctx, threads=self.settings.threads)

    def vlm(self) -> VisionLLM:
        from folio.llm import load_vlm
        from folio.models import ModelError

        if self.vlm_files is None:
            raise ModelError("no vision model configured (models.vlm and models.mmproj)")
        return load_vlm(
            self.vlm_files[0], self.vlm_files[1], self.settings.vlm_family,
            n_ctx=self.settings.n_ctx, threads=self.settings.threads,
        )

    def ocr_text(self, png: bytes) -> str:
        self.ocr_calls += 1
        return self._ocr(png)
