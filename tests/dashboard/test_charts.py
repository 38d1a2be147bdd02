"""The dashboard's SVG line charts, drawn without a running service."""

from __future__ import annotations

import re

from api.dashboard.charts import Series, line_chart


def _series(svg: str) -> dict[str, str]:
    return dict(re.findall(r'<g class="series" data-series="([^"]+)">(.*?)</g>', svg))


def test_a_series_of_several_points_is_a_line_with_markers() -> None:
    svg = line_chart(
        [Series("loss", [(1, 0.5), (2, 0.25), (3, 0.125)])],
        x_label="step",
        y_label="loss",
        title="t",
    )
    drawn = _series(svg)["loss"]
    assert drawn.count("<polyline") == 1 and drawn.count("<circle") == 3


def test_a_series_of_one_point_is_a_marker_not_an_empty_line() -> None:
    svg = line_chart(
        [Series("warmup_regression", [(1, 0.4)]), Series("generator", [(12, 2.0), (13, 1.5)])],
        x_label="step",
        y_label="loss",
        title="t",
    )
    drawn = _series(svg)
    assert "<polyline" not in drawn["warmup_regression"]
    assert drawn["warmup_regression"].count("<circle") == 1
    assert "<polyline" in drawn["generator"]


def test_no_points_draw_no_chart() -> None:
    assert line_chart([Series("loss", [])], x_label="step", y_label="loss", title="t") == ""
