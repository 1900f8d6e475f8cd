"""The heating bench's pictures: a cold and a mild week of each building under a strategy.

matplotlib is the optional ``bench`` extra (``pip install -e '.[bench]'``, which
``make test`` installs); without it, ``require_matplotlib`` says so before any season runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta, tzinfo
from pathlib import Path

from gtb.i18n import DAYS_FR
from gtb.model import Site
from gtb.sim.season import CONTROL_STEP_S, PHYSICS_STEP_S, STEPS_PER_CONTROL, Run, Trace
from gtb.sim.weather import to_epoch


class PlotsUnavailable(RuntimeError):
    """matplotlib, which draws the plots, is not installed."""


def require_matplotlib() -> None:
    """Fail now, with what to install, rather than after the seasons have run."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotsUnavailable(
            "the plots need matplotlib, the optional 'bench' extra: "
            "pip install -e '.[bench]' (make test installs it)") from None


LABELS_FR = {"always": "confort permanent", "fixed": "programme, relance fixe",
             "learned": "appris", "as_found": "horloge d'origine"}


def typical_weeks(trace: Trace, tz: tzinfo) -> dict[str, datetime]:
    """The coldest and the mildest whole week (Monday to Monday, local) that counts."""
    first = datetime.fromtimestamp(trace.origin + trace.counted_from * PHYSICS_STEP_S, tz)
    monday = datetime.combine(first.date() + timedelta(days=(7 - first.weekday()) % 7),
                              time(), tzinfo=tz)
    means: dict[datetime, float] = {}
    while True:
        a, b = (round((to_epoch(t) - trace.origin) / PHYSICS_STEP_S)
                for t in (monday, monday + timedelta(days=7)))
        if b > len(trace.outdoor):
            break
        means[monday] = float(trace.outdoor[a:b].mean())
        monday = datetime.combine(monday.date() + timedelta(days=7), time(), tzinfo=tz)
    return {"froide": min(means, key=means.__getitem__),
            "douce": max(means, key=means.__getitem__)}


def _day_label(tz: tzinfo) -> Callable[[float, int], str]:
    """Axis ticks as « lun. 01 », whatever the machine's locale."""
    import matplotlib.dates as mdates

    def label(value: float, _: int) -> str:
        day = mdates.num2date(value, tz=tz)
        return f"{DAYS_FR[day.weekday()][:3]}. {day:%d}"

    return label


def plot(site: Site, run: Run, folder: Path, dpi: int = 72) -> list[Path]:
    """One PNG per building: zones in rows, the cold and the mild week in columns."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    folder.mkdir(parents=True, exist_ok=True)
    trace, tz = run.trace, site.tz
    written = []
    column = 0
    for building in site.buildings:
        zones = building.zones
        figure, axes = plt.subplots(len(zones), 2, figsize=(13, 1.9 * len(zones) + 1.2),
                                    squeeze=False, sharey="row")
        for w, (kind, monday) in enumerate(typical_weeks(trace, tz).items()):
            a = round((to_epoch(monday) - trace.origin) / PHYSICS_STEP_S)
            b = a + round(7 * 86400 / PHYSICS_STEP_S)
            ca, cb = a // STEPS_PER_CONTROL, b // STEPS_PER_CONTROL
            steps = [datetime.fromtimestamp(trace.origin + PHYSICS_STEP_S * n, tz)
                     for n in range(a, b)]
            controls = [datetime.fromtimestamp(trace.origin + CONTROL_STEP_S * n, tz)
                        for n in range(ca, cb + 1)]
            for z, zone in enumerate(zones):
                ax = axes[z][w]
                i = column + z
                ax.fill_between(steps, 0, 1, where=trace.occupants[a:b, i] > 0, step="post",
                                transform=ax.get_xaxis_transform(), color="tab:green",
                                alpha=0.18, linewidth=0, label="occupé (réel)")
                ax.plot(steps, trace.outdoor[a:b], color="grey", linewidth=0.8,
                        label="extérieur")
                ax.step(controls[:-1], trace.setpoint[ca:cb, i], where="post",
                        color="tab:orange", linewidth=1.0, label="consigne")
                ax.plot(controls, trace.air[ca : cb + 1, i], color="tab:red", linewidth=1.2,
                        label="air intérieur")
                ax.set_title(f"{zone.name} — semaine {kind} du {monday:%d/%m/%Y}",
                             fontsize=9)
                ax.xaxis.set_major_formatter(FuncFormatter(_day_label(tz)))
                ax.tick_params(labelsize=8)
                ax.grid(alpha=0.3)
                if w == 0:
                    ax.set_ylabel("°C", fontsize=8)
        column += len(zones)
        handles, labels = axes[0][0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
        figure.suptitle(f"{building.name} — stratégie {LABELS_FR.get(run.strategy, run.strategy)}"
                        f" (année météo {run.seed})", fontsize=11)
        figure.tight_layout(rect=(0, 0.05, 1, 1))
        path = folder / f"{building.id}-{run.strategy}.png"
        figure.savefig(path, dpi=dpi)
        plt.close(figure)
        written.append(path)
    return written


