"""Server-rendered SVG charts for the admin: no JavaScript, nothing loaded from the internet."""

from collections.abc import Sequence
from datetime import datetime
from html import escape

from predictions.reliability import weibull_reliability

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 24, 36
LINE = "#2b6cb0"
MARK = "#c53030"


def _frame(title: str, x_labels: Sequence[tuple[float, str]], body: str, *, label: str) -> str:
    """Axes (reliability 0–1 on y), grid, x labels and the plotted body inside one <svg>."""
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dtwin-chart" role="img" '
        f'aria-label="{escape(label)}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" style="background:#fff;font:11px sans-serif">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="14" font-weight="bold">{escape(title)}</text>',
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = TOP + plot_h * (1 - tick)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:.2f}</text>'
        )
    for x, text in x_labels:
        anchor = "end" if x > WIDTH - RIGHT - 40 else "middle"
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="{anchor}">'
            f"{escape(text)}</text>"
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="#4a5568"/>'
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM}" '
        f'stroke="#4a5568"/>'
    )
    parts.append(body)
    parts.append("</svg>")
    return "".join(parts)


def _y(value: float) -> float:
    """Pixel y of a reliability in [0, 1]."""
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - min(1.0, max(0.0, value)))


def reliability_history_svg(points: Sequence[tuple[datetime, float]], *, title: str) -> str:
    """Predicted reliability over time (x: the prediction's time), one dot per prediction."""
    if not points:
        return ""
    points = sorted(points)
    start, end = points[0][0], points[-1][0]
    span = (end - start).total_seconds() or 1.0
    plot_w = WIDTH - LEFT - RIGHT

    def x_of(moment: datetime) -> float:
        if len(points) == 1:
            return LEFT + plot_w / 2
        return LEFT + plot_w * (moment - start).total_seconds() / span

    coords = [(x_of(t), _y(v)) for t, v in points]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{LINE}">'
        f"<title>{t:%Y-%m-%d %H:%M}: {v:.3f}</title></circle>"
        for (x, y), (t, v) in zip(coords, points, strict=True)
    )
    body = f'<polyline fill="none" stroke="{LINE}" stroke-width="2" points="{path}"/>{dots}'
    labels = [(x_of(start), f"{start:%Y-%m-%d}")]
    if len(points) > 1:
        labels.append((x_of(end), f"{end:%Y-%m-%d}"))
    return _frame(title, labels, body, label="predicted reliability history")


def weibull_curve_svg(
    *, eta_hours: float, beta: float, horizon_hours: float, weeks: int = 8, title: str
) -> str:
    """R(t) = exp(-(t/η)^β) over the coming weeks after maintenance, the horizon marked."""
    span_hours = max(weeks * 168.0, horizon_hours * 1.25)
    plot_w = WIDTH - LEFT - RIGHT
    steps = 120
    coords = []
    for i in range(steps + 1):
        t = span_hours * i / steps
        coords.append(
            (LEFT + plot_w * i / steps, _y(weibull_reliability(t, eta_hours=eta_hours, beta=beta)))
        )
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    hx = LEFT + plot_w * horizon_hours / span_hours
    r_h = weibull_reliability(horizon_hours, eta_hours=eta_hours, beta=beta)
    body = (
        f'<polyline class="weibull-curve" fill="none" stroke="{LINE}" stroke-width="2" '
        f'points="{path}"/>'
        f'<line class="horizon" x1="{hx:.1f}" x2="{hx:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" '
        f'stroke="{MARK}" stroke-dasharray="4 3"/>'
        f'<circle cx="{hx:.1f}" cy="{_y(r_h):.1f}" r="4" fill="{MARK}"/>'
        f'<text x="{hx + 6:.1f}" y="{_y(r_h) - 6:.1f}" fill="{MARK}">'
        f"horizon {horizon_hours / 24:g} d: R = {r_h:.3f}</text>"
    )
    labels = [
        (LEFT + plot_w * w * 168 / span_hours, f"{w} wk")
        for w in range(0, int(span_hours // 168) + 1, 2)
    ]
    return _frame(
        f"{title} (η = {eta_hours:g} h, β = {beta:g})", labels, body, label="Weibull reliability"
    )
