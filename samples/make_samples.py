#!/usr/bin/env python3
"""Make the bundled sample set (samples/docs): a PDF with a table and figures, a DOCX, a PPTX.

The files are generated here so that the project ships nothing it did not make. They are
committed too, so the quick start does not depend on running this script; run it again
after changing it (`python samples/make_samples.py`).
"""

from __future__ import annotations

import io
import itertools
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "docs"

QUARTERS = ["Q1", "Q2", "Q3", "Q4"]
REGIONS = {
    "North": [412.5, 438.1, 455.0, 501.2],
    "South": [298.0, 305.4, 322.9, 340.7],
    "West": [187.3, 201.8, 215.5, 236.0],
}


def _bar_chart_png(width: int = 480, height: int = 300) -> bytes:
    """A raster bar chart drawn with Pillow (its labels exist only in the image)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    d.text((10, 8), "Quarterly revenue by region (USD thousands)", fill="black")
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c"]
    top = max(max(v) for v in REGIONS.values())
    base, left, group_w = height - 30, 40, (width - 60) // 4
    d.line((left, base, width - 10, base), fill="black")
    for qi, q in enumerate(QUARTERS):
        for ri, (_name, vals) in enumerate(REGIONS.items()):
            h = int((vals[qi] / top) * (base - 40))
            x0 = left + qi * group_w + ri * (group_w // 4) + 6
            d.rectangle((x0, base - h, x0 + group_w // 4 - 4, base), fill=colors[ri])
        d.text((left + qi * group_w + group_w // 3, base + 6), q, fill="black")
    for ri, name in enumerate(REGIONS):
        d.rectangle((width - 90, 30 + ri * 16, width - 80, 40 + ri * 16), fill=colors[ri])
        d.text((width - 74, 29 + ri * 16), name, fill="black")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def make_pdf(path: Path) -> None:
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    y = 72.0
    page.insert_text((72, y), "Northwind Annual Report 2025", fontsize=20, fontname="hebo")
    y += 34
    page.insert_text((72, y), "1 Overview", fontsize=14, fontname="hebo")
    y += 20
    body = (
        "Northwind sells outdoor equipment in three regions. Revenue grew in every quarter "
        "of 2025, led by the North region, where the new Tromso warehouse opened in March. "
        "This report summarises revenue by region and the drivers behind it."
    )
    rect = pymupdf.Rect(72, y, 540, y + 60)
    page.insert_textbox(rect, body, fontsize=11, fontname="helv")
    y += 70
    page.insert_text((72, y), "2 Revenue by region", fontsize=14, fontname="hebo")
    y += 22
    page.insert_text((72, y), "Table 1: Quarterly revenue by region (USD thousands)", fontsize=10, fontname="heit")
    y += 10
    # A ruled table: header row, one row per region, a total row.
    cols = [72, 180, 270, 360, 450, 540]
    rows = ["Region", *REGIONS, "Total"]
    row_h = 20
    for r, label in enumerate(rows):
        top = y + r * row_h
        if r == 0:
            cells = ["Region", *QUARTERS]
        elif label == "Total":
            cells = ["Total"] + [f"{sum(v[q] for v in REGIONS.values()):.1f}" for q in range(4)]
        else:
            cells = [label] + [f"{v:.1f}" for v in REGIONS[label]]
        for c, text in enumerate(cells):
            x = cols[c] + 6
            page.insert_text((x, top + 14), text, fontsize=10, fontname="hebo" if r == 0 else "helv")
    for r in range(len(rows) + 1):
        page.draw_line((cols[0], y + r * row_h), (cols[-2] + 90, y + r * row_h), width=0.6)
    for x in [*cols[:-1], cols[-2] + 90]:
        page.draw_line((x, y), (x, y + len(rows) * row_h), width=0.6)
    y += len(rows) * row_h + 26
    page.insert_text((72, y), "3 Drivers", fontsize=14, fontname="hebo")
    y += 8
    rect = pymupdf.Rect(72, y, 540, y + 70)
    page.insert_textbox(
        rect,
        "Three factors drove growth: the Tromso warehouse cut delivery times from five days to two; "
        "the spring catalogue added 140 products; and online orders rose to 46 percent of sales.",
        fontsize=11,
        fontname="helv",
    )

    page2 = doc.new_page(width=612, height=792)
    page2.insert_text((72, 72), "4 Figures", fontsize=14, fontname="hebo")
    page2.insert_image(pymupdf.Rect(72, 90, 392, 290), stream=_bar_chart_png())
    page2.insert_text((72, 306), "Figure 1: Quarterly revenue by region, bar chart.", fontsize=10, fontname="heit")
    # A vector figure: a line chart of online share, drawn with paths and vector labels.
    ox, oy, w, h = 100.0, 540.0, 360.0, 170.0
    page2.draw_line((ox, oy), (ox + w, oy), width=1)
    page2.draw_line((ox, oy), (ox, oy - h), width=1)
    share = [31, 35, 41, 46]
    pts = [(ox + 40 + i * (w - 80) / 3, oy - share[i] / 50 * h) for i in range(4)]
    for a, b in itertools.pairwise(pts):
        page2.draw_line(a, b, color=(0.8, 0.1, 0.1), width=2)
    for i, (px, py) in enumerate(pts):
        page2.draw_circle((px, py), 3, color=(0.8, 0.1, 0.1), fill=(0.8, 0.1, 0.1))
        page2.insert_text((px - 8, oy + 14), QUARTERS[i], fontsize=9)
        page2.insert_text((px - 8, py - 8), f"{share[i]}%", fontsize=9)
    page2.insert_text((ox - 30, oy - h - 8), "Online share of sales", fontsize=9)
    page2.insert_text((72, oy + 40), "Figure 2: Online orders as a share of sales, 2025.", fontsize=10, fontname="heit")
    for i in range(2):
        doc[i].insert_text((300, 770), str(i + 1), fontsize=9)
    doc.set_page_labels([{"startpage": 0, "prefix": "R-", "style": "D", "firstpagenum": 1}])
    doc.set_metadata({"title": "Northwind Annual Report 2025", "author": "Folio samples"})
    doc.save(path, garbage=3, deflate=True)


def make_docx(path: Path) -> None:
    import docx
    from docx.shared import Inches

    d = docx.Document()
    d.sections[0].header.paragraphs[0].text = "Northwind internal memo"
    d.add_heading("Warehouse memo", level=0)
    d.add_heading("Background", level=1)
    d.add_paragraph(
        "The Tromso warehouse opened in March 2025. It serves the North region and holds "
        "about 12,000 pallets."
    )
    d.add_heading("Staffing", level=1)
    for item in ("Two shifts on weekdays", "One shift on Saturdays", "Seasonal staff from May to August"):
        d.add_paragraph(item, style="List Bullet")
    d.add_heading("Shift schedule", level=2)
    t = d.add_table(rows=4, cols=3)
    t.style = "Table Grid"
    data = [["Shift", "Hours", "Staff"], ["Early", "06:00-14:00", "18"], ["Late", "14:00-22:00", "15"],
            ["Weekend", "08:00-16:00", "9"]]
    for r, row in enumerate(data):
        for c, val in enumerate(row):
            t.cell(r, c).text = val
    d.add_heading("Site plan", level=1)
    d.add_picture(io.BytesIO(_bar_chart_png(320, 200)), width=Inches(3.5))
    d.add_paragraph("Figure 1: Revenue by region, as shown to the board.", style="Caption")
    d.save(str(path))


def make_pptx(path: Path) -> None:
    from pptx import Presentation
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches

    prs = Presentation()
    s1 = prs.slides.add_slide(prs.slide_layouts[1])
    s1.shapes.title.text = "Northwind 2025 in brief"
    body = s1.placeholders[1].text_frame
    body.text = "Revenue grew every quarter"
    for text, level in (("North led growth", 1), ("Online share reached 46%", 1), ("Tromso warehouse opened", 0)):
        p = body.add_paragraph()
        p.text, p.level = text, level
    s1.notes_slide.notes_text_frame.text = "Mention that Q4 North revenue was 501.2 thousand."

    s2 = prs.slides.add_slide(prs.slide_layouts[5])
    s2.shapes.title.text = "Revenue by region"
    chart_data = CategoryChartData()
    chart_data.categories = QUARTERS
    for name, vals in REGIONS.items():
        chart_data.add_series(name, vals)
    s2.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(1.5), Inches(8), Inches(5), chart_data)

    s3 = prs.slides.add_slide(prs.slide_layouts[5])
    s3.shapes.title.text = "Delivery times"
    shape = s3.shapes.add_table(3, 3, Inches(1), Inches(1.5), Inches(8), Inches(1.5))
    tbl = shape.table
    vals = [["Route", "Before (days)", "After (days)"], ["Oslo-Tromso", "5", "2"], ["Bergen-Tromso", "6", "3"]]
    for r, row in enumerate(vals):
        for c, v in enumerate(row):
            tbl.cell(r, c).text = v
    pic = s3.shapes.add_picture(io.BytesIO(_bar_chart_png(320, 200)), Inches(1), Inches(3.5), Inches(4))
    pic._element.nvPicPr.cNvPr.set("descr", "Bar chart of quarterly revenue by region")
    prs.save(str(path))


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    make_pdf(OUT / "northwind-report.pdf")
    make_docx(OUT / "warehouse-memo.docx")
    make_pptx(OUT / "northwind-deck.pptx")
    for p in sorted(OUT.iterdir()):
        print(f"{p.relative_to(OUT.parent.parent)}  {p.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
