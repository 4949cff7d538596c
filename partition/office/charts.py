"""Chart parts (``c:chartSpace`` XML) -> a table of categories x series.

The data comes from the caches Office stores next to each series (``c:strCache``,
``c:numCache``), read straight from the XML. python-pptx's chart API raises on
``c:bar3DChart`` ("unsupported plot type") and, with the installed lxml, on the
ordinary bar charts of the corpus too, so it is not used for chart data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from folio.table_grid import Cell, to_html

C = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"


@dataclass
class ChartData:
    chart_type: str  # the plot element, e.g. "barChart", "bar3DChart", "pieChart"
    title: str | None
    categories: list[str]
    series: list[tuple[str, list[str]]]  # (name, values aligned with categories)
    axis_titles: list[str] = field(default_factory=list)

    def cells(self) -> list[Cell]:
        out = [Cell(0, 0, "", header=True)]
        out += [Cell(0, k + 1, name, header=True) for k, (name, _) in enumerate(self.series)]
        for r, cat in enumerate(self.categories, 1):
            out.append(Cell(r, 0, cat))
            for k, (_, values) in enumerate(self.series):
                out.append(Cell(r, k + 1, values[r - 1] if r - 1 < len(values) else ""))
        return out

    def html(self) -> str:
        return to_html(self.cells())

    def text(self) -> str:
        """Title, then one self-contained line per category: "2022 | Ducks: 175 | Geese: 130".

        Not table_grid.to_text: that collapses equal neighbouring values (spans), which
        would hide a data point that happens to equal its category label.
        """
        lines = [f"Chart: {self.title}" if self.title else f"Chart ({self.chart_type})"]
        if self.axis_titles:
            lines.append("Axes: " + "; ".join(self.axis_titles))
        lines.append("Series: " + "; ".join(name for name, _ in self.series))
        for i, cat in enumerate(self.categories):
            values = [f"{name}: {vals[i] if i < len(vals) else ''}" for name, vals in self.series]
            lines.append(" | ".join([cat, *values]))
        return "\n".join(lines)


def _rich_text(el: Any) -> str:
    paragraphs = []
    for p in el.iter(f"{A}p"):
        paragraphs.append("".join(t.text or "" for t in p.iter(f"{A}t")))
    text = " ".join(s for s in paragraphs if s.strip()).strip()
    if not text:  # a title linked to a cell keeps its text in a c:strCache
        text = " ".join((v.text or "") for v in el.iter(f"{C}v")).strip()
    return text


def _points(el: Any | None) -> list[str]:
    """Values of the first cache under ``el`` by index (c:pt idx), gaps as ''."""
    if el is None:
        return []
    values: dict[int, str] = {}
    count = 0
    for pt_count in el.iter(f"{C}ptCount"):
        count = max(count, int(pt_count.get("val", "0") or 0))
        break
    for pt in el.iter(f"{C}pt"):
        idx = int(pt.get("idx", "0"))
        if idx not in values:  # multi-level categories: keep the innermost level
            v = pt.find(f"{C}v")
            values[idx] = (v.text or "") if v is not None else ""
    size = max(count, max(values) + 1 if values else 0)
    return [values.get(i, "") for i in range(size)]


def read_chart_xml(blob: bytes) -> ChartData | None:
    root = etree.fromstring(blob, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    chart = root.find(f"{C}chart")
    plot_area = chart.find(f"{C}plotArea") if chart is not None else None
    if chart is None or plot_area is None:
        return None
    chart_types: list[str] = []
    categories: list[str] = []
    series: list[tuple[str, list[str]]] = []
    for plot in plot_area:
        if not isinstance(plot.tag, str) or not plot.tag.endswith("Chart"):
            continue
        chart_types.append(etree.QName(plot).localname)
        for ser in plot.iter(f"{C}ser"):
            tx = ser.find(f"{C}tx")
            name = _rich_text(tx) if tx is not None else ""
            name = name or f"Series {len(series) + 1}"
            cats = _points(ser.find(f"{C}cat") if ser.find(f"{C}cat") is not None else ser.find(f"{C}xVal"))
            vals = _points(ser.find(f"{C}val") if ser.find(f"{C}val") is not None else ser.find(f"{C}yVal"))
            if len(cats) > len(categories):
                categories = cats
            series.append((name, vals))
    if not series:
        return None
    n = max(len(categories), *(len(v) for _, v in series))
    categories = categories + [str(i + 1) for i in range(len(categories), n)]
    title_el = chart.find(f"{C}title")
    title = _rich_text(title_el) if title_el is not None else ""
    auto_deleted = chart.find(f"{C}autoTitleDeleted")
    if not title and len(series) == 1 and (auto_deleted is None or auto_deleted.get("val") in ("0", "false")):
        title = series[0][0]  # Office shows the lone series name as the automatic title
    axis_titles = []
    for axis in plot_area:
        axis_title = axis.find(f"{C}title") if isinstance(axis.tag, str) and axis.tag.endswith("Ax") else None
        if axis_title is not None and _rich_text(axis_title):
            axis_titles.append(_rich_text(axis_title))
    return ChartData(
        chart_type="+".join(dict.fromkeys(chart_types)),
        title=title or None,
        categories=categories,
        series=series,
        axis_titles=axis_titles,
    )
