"""Each figure as a chart: server-rendered SVG (pygal), so it shows without JavaScript and prints.

The SVG is embedded in the page as a data: image (the page's Content-Security-Policy allows no inline style, and
pygal styles its SVG), with a text alternative; the table beside it carries the same numbers and the links.
"""

from __future__ import annotations

import base64
import sys

import pygal
from pygal.style import Style

from .figures import Figure

# pygal appends a sys.meta_path finder for pygal.maps.* plugins (unused here) that has no find_spec, so every later
# import warns (ImportWarning, an error under the tests' filterwarnings); it is taken out again.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

__all__ = ["chart_uri"]

# NHS.UK colours: blue, dark grey, warm yellow, red, and on for more outcomes; text in the NHS.UK text colour.
STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#212b32",
    foreground_strong="#212b32",
    foreground_subtle="#4c6272",
    colors=("#005eb8", "#4c6272", "#ffb81c", "#d5281b", "#007f3b", "#330072", "#ae2573", "#00a499"),
    font_family="Arial, sans-serif",
)


def chart_svg(figure: Figure) -> bytes:
    chart = pygal.StackedBar(
        style=STYLE,
        width=720,
        height=300,
        js=[],  # no script: nothing to fetch, nothing to run
        legend_at_bottom=True,
        legend_at_bottom_columns=min(4, len(figure.outcomes)),
        show_y_guides=True,
        x_label_rotation=0 if len(figure.months) <= 12 else 45,
        print_values=False,
        disable_xml_declaration=True,
        title=None,
    )
    chart.x_labels = [m[2:] if len(figure.months) > 12 else m for m in figure.months]
    for outcome, label in figure.outcomes:
        chart.add(label, [figure.count(m, outcome) for m in figure.months])
    svg = chart.render()
    return svg if isinstance(svg, bytes) else svg.encode("utf-8")


def chart_uri(figure: Figure) -> str:
    """The chart as a data: URI for an <img>."""
    return "data:image/svg+xml;base64," + base64.b64encode(chart_svg(figure)).decode("ascii")
