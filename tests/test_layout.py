"""The layout's rules hold in the code (docs/architecture.md): measured from the imports."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "layers.py"


def _measure() -> dict[str, object]:
    spec = importlib.util.spec_from_file_location("folio_layers", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["folio_layers"] = module
    spec.loader.exec_module(module)
    return module.measure()  # type: ignore[no-any-return]


def test_question_side_never_imports_the_nightly_run() -> None:
    arrows = _measure()["arrows"]
    assert isinstance(arrows, dict)
    for room in ("answer", "ui", "export", "serve", "index", "review"):
        assert "pipeline" not in arrows[room], room


def test_stages_stand_side_by_side_on_the_core() -> None:
    m = _measure()
    arrows = m["arrows"]
    assert isinstance(arrows, dict)
    for stage in ("partition", "enrich", "index"):
        assert set(arrows[stage]) == {"folio"}, (stage, arrows[stage])
    assert arrows["folio"] == []


def test_house_is_low_acyclic_and_made_of_small_modules() -> None:
    m = _measure()
    assert m["circles"] == []
    assert m["forbidden"] == []
    assert int(m["height"]) <= 6  # type: ignore[call-overload]
    assert m["long_modules"] == []


def test_a_format_is_one_registry_line_and_a_partitioner_module() -> None:
    from partition import FORMATS, Partitioner, load_partitioner

    for kind, fmt in FORMATS.items():
        assert fmt.module.startswith("partition."), kind
        module = load_partitioner(kind)
        assert callable(module.partition), kind
    assert Partitioner.__name__ == "Partitioner"


def test_every_module_imports() -> None:
    """mypy ignores missing imports (third-party stubs), so a module importing one of ours
    that moved or was removed is caught here."""
    import importlib

    root = SCRIPT.parent.parent
    for pkg in ("folio", "partition", "enrich", "index", "review", "answer", "commands", "export", "ui", "pipeline"):
        for path in sorted((root / pkg).rglob("*.py")):
            name = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as e:  # only our own modules count; optional extras may be absent
                assert (e.name or "").split(".")[0] not in {pkg, "folio", "answer", "index", "review"}, (name, e)
