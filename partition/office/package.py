"""Opening OOXML packages (DOCX/PPTX) so damage becomes a DocumentError with a reason."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from folio.errors import DocumentError

T = TypeVar("T")


def open_package(path: Path, kind: str, opener: Callable[[str], T]) -> T:
    """Check the zip container, then open it with ``opener`` (docx.Document, pptx.Presentation).

    python-docx/python-pptx report a truncated zip or a missing part with bare KeyError or
    BadZipFile; the user needs to know the file is damaged, not which key was missing.
    """
    label = kind.upper()
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except zipfile.BadZipFile as e:
        raise DocumentError(str(path), f"damaged or truncated {label} (not a readable zip: {e})") from None
    except OSError as e:
        raise DocumentError(str(path), f"cannot read {label}: {e}") from None
    if "[Content_Types].xml" not in names:
        raise DocumentError(str(path), f"damaged {label}: no [Content_Types].xml in the package")
    try:
        return opener(str(path))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
        raise DocumentError(str(path), f"damaged or truncated {label}: {e}") from None
    except KeyError as e:
        raise DocumentError(str(path), f"damaged {label}: missing part {e}") from None
    except Exception as e:  # lxml XMLSyntaxError, PackageNotFoundError, ValueError ...
        raise DocumentError(str(path), f"cannot open {label}: {type(e).__name__}: {e}") from None
