"""A table citation card's grid (ui/cards.py): built from the cells' text by us, escaped,
cut to a size; the switch sits outside the card's link."""

from __future__ import annotations

from ui.cards import GRID_ROWS, card, grid_html


def test_grid_is_escaped_text_built_by_us() -> None:
    html = ('<table><tr><th>Region</th><th onclick="x()">Q4</th></tr>'
            '<tr><td><img src=x onerror=alert(1)>North</td><td colspan="1">501.2</td></tr>'
            '<tr><td>&lt;script&gt;alert(2)&lt;/script&gt;</td><td>7</td></tr></table>')
    out = grid_html(html)
    assert out.startswith("<table><thead><tr><th>Region</th><th>Q4</th></tr></thead>")
    assert "<td>North</td><td>501.2</td>" in out  # the tag is gone, its text kept
    assert "<td>&lt;script&gt;alert(2)&lt;/script&gt;</td>" in out  # text that looks like markup stays text
    assert "onclick" not in out and "onerror" not in out and "<img" not in out and "<script" not in out


def test_large_tables_are_cut_and_say_so() -> None:
    rows = "".join(f"<tr><td>r{i}</td><td>{i}</td></tr>" for i in range(GRID_ROWS + 40))
    out = grid_html(f"<table>{rows}</table>")
    assert f"first {GRID_ROWS} of {GRID_ROWS + 40} rows" in out and out.count("<tr>") == GRID_ROWS
    assert grid_html("<p>no table</p>") == ""


def test_table_card_switches_to_its_grid_outside_the_link() -> None:
    c = {"n": 1, "source": "r.pdf", "page": 2, "kind": "table", "image": "crops/t.png", "page_image": "pages/r-2.png",
         "html": "<table><tr><td>A</td><td>B</td></tr><tr><td>1</td><td>2</td></tr></table>",
         "element_ids": ["e1"]}
    out = card(c)
    link_end = out.index("</a>")
    assert out.index('<details class="folio-grid">') > link_end  # closed: the crop shows first
    assert "<th>A</th><th>B</th>" in out and "<td>1</td><td>2</td>" in out
    no_picture = card({**c, "image": None, "page_image": None})
    assert '<details class="folio-grid" open>' in no_picture
