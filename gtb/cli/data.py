"""What people take out of the store: ``gtb export`` for auditors, ``gtb savings`` for
elected officials."""

from __future__ import annotations

import errno
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TextIO

import click
from rich.progress import Progress

from gtb import export
from gtb.cli.common import count, echo_json, errors, load_or_exit
from gtb.cli.tables import print_savings
from gtb.clock import RealClock
from gtb.store import Store
from gtb.store.errors import StoreError


@click.command("export")
@click.argument("site_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("var/gtb.sqlite"), show_default=True,
              help="the engine's store (must exist; never created)")
@click.option("--from", "from_text", required=True, metavar="MONTH|DATE|ISO-TIME",
              help="start, included: a month or a date (its first midnight) or a time; "
                   "without an offset, the site's local time")
@click.option("--to", "to_text", required=True, metavar="MONTH|DATE|ISO-TIME",
              help="end: a time is excluded; a month or a date means its END, so "
                   "--to 2026-03-31 includes 31 March and --to 2026-03 all of March")
@click.option("--building", metavar="ID", help="only the points of this building, its zones' "
                                                "included")
@click.option("--zone", metavar="[BUILDING.]ZONE", help="only the points of this zone")
@click.option("--cabinet", metavar="ID", help="only the points of this public lighting cabinet")
@click.option("--quantity", "quantities", multiple=True, type=click.Choice(export.QUANTITIES),
              help="only these measurements (repeatable)")
@click.option("--resolution", type=click.Choice([r.value for r in export.Resolution]),
              default="raw", show_default=True,
              help="raw samples; hourly rollups (mean, min, max, count of good samples); local "
                   "calendar days or months of the site (whole ones: the period is widened)")
@click.option("--format", "fmt", type=click.Choice([f.value for f in export.Format]), required=True,
              help="csv (with '#' comment lines first), csv-fr (for a French spreadsheet: "
                   "semicolons, decimal commas, UTF-8 with BOM, dd/mm/yyyy hh:mm local times "
                   "with their UTC offset), json (JSON Lines: one object per line) or lp "
                   "(InfluxDB line protocol, second precision; rollups to MEASUREMENT_1h, "
                   "_1d, _1mo)")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="file to write (replaced only once complete)  [default: stdout]")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path),
              help="folder to write into, under the name the panel gives the same export "
                   "(site, place, quantities, resolution, days)")
def export_command(
    site_file: Path, db: Path, from_text: str, to_text: str, building: str | None,
    zone: str | None, cabinet: str | None, quantities: tuple[str, ...], resolution: str,
    fmt: str, output: Path | None, output_dir: Path | None,
) -> None:
    """Export the samples or rollups of SITE_FILE's points from the store, for an auditor
    (docs/export.md). A progress bar shows on stderr when it is a terminal and the export
    is long; a summary follows there at the end."""
    site = load_or_exit(site_file)
    try:
        start = export.parse_moment(from_text, site.tz, end=False)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--from") from None
    try:
        end = export.parse_moment(to_text, site.tz, end=True)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from None
    if end <= start:
        raise click.BadParameter(f"--from {start.isoformat()} is not before --to "
                                 f"{end.isoformat()}: the period is empty", param_hint="--to")
    try:
        points = export.select_points(site, building=building, zone=zone, cabinet=cabinet,
                                      quantities=quantities)
    except export.SelectionError as exc:
        raise click.BadParameter(str(exc), param_hint=exc.option) from None
    if not db.is_file():
        raise click.BadParameter(f"no store at {db}", param_hint="--db")
    step = export.Resolution(resolution)
    period = export.Period(start, end, site.tz).widened(step)
    if output_dir is not None:
        if output is not None:
            raise click.BadParameter("give --output or --output-dir, not both",
                                     param_hint="--output-dir")
        if not output_dir.is_dir():
            raise click.BadParameter(f"folder {output_dir} does not exist",
                                     param_hint="--output-dir")
        scope = export.Scope.of(points, building=building, zone=zone, cabinet=cabinet)
        output = output_dir / export.file_name(site.id, scope, quantities, step, period,
                                               export.Format(fmt))
    if output is not None and not output.parent.is_dir():
        raise click.BadParameter(f"folder {output.parent} does not exist", param_hint="--output")
    try:
        store = Store(db)
    except StoreError as exc:
        raise click.BadParameter(str(exc), param_hint="--db") from None
    filters = export.filters_text(building=building, zone=zone, cabinet=cabinet,
                                  quantities=quantities)
    notes = export.comments(site, period, step, points, filters, RealClock().now(),
                            fmt=export.Format(fmt))
    try:
        with _export_target(output) as out:
            writer = export.writer_for(export.Format(fmt), out, site, step, notes)
            # Counted for the progress bar only: one query per point.
            works = ([export.work(store, point, period, step) for point in points]
                     if errors.is_terminal else [])
            shown = errors.is_terminal and sum(works) >= 20_000
            with Progress(console=errors, transient=True, disable=not shown) as progress:
                task = progress.add_task("export", total=sum(works))
                report = export.export(store, points, period, step, writer, works=works,
                                       progress=lambda n: progress.advance(task, n))
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            raise  # the reader went away (| head): click ends quietly
        kept = "nothing was written" if output else "the output is incomplete"
        raise click.ClickException(f"export stopped, {kept}: {exc}") from None
    finally:
        store.close()
    errors.print(f"{count(report.rows, 'row')} written ({count(len(points), 'point')}, "
                 f"{report.points_with_data} with data; {period.describe(step)}; "
                 f"{site.timezone}) to {output or 'stdout'}", markup=False, highlight=False)


@contextmanager
def _export_target(output: Path | None) -> Iterator[TextIO]:
    """stdout, or a temporary file beside ``output`` that replaces it only once complete:
    an export that fails leaves nothing half-written."""
    if output is None:
        out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            yield out
            out.flush()
        finally:
            out.detach()
        return
    fd, part = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".part")
    try:
        with open(fd, "w", encoding="utf-8", newline="") as out:
            yield out
        umask = os.umask(0)  # mkstemp makes the file private; give it the usual mode
        os.umask(umask)
        os.chmod(part, 0o666 & ~umask)
        os.replace(part, output)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise


_DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.command("savings")
@click.argument("site_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("var/gtb.sqlite"), show_default=True,
              help="the engine's store (must exist; never created)")
@click.option("--from", "start", type=_DAY, required=True, metavar="DATE",
              help="first day of the reporting period (local)")
@click.option("--to", "end", type=_DAY, required=True, metavar="DATE",
              help="last day of the reporting period, included")
@click.option("--baseline-from", "baseline_start", type=_DAY, metavar="DATE",
              help="first day of the baseline (default: 365 days before the engine's first "
                   "start)")
@click.option("--baseline-to", "baseline_end", type=_DAY, metavar="DATE",
              help="last day of the baseline, included")
@click.option("--baseline-csv", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="daily meter readings for the baseline (docs/savings.md: meter,date,kwh "
                   "or index_kwh, optional tmin,tmax)")
@click.option("--tariffs", "tariffs_file", type=click.Path(dir_okay=False, exists=True,
                                                           path_type=Path),
              help="prices and emission factors (YAML, docs/savings.md); default: French "
                   "averages")
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON")
def savings_command(site_file: Path, db: Path, start: datetime, end: datetime,
                    baseline_start: datetime | None, baseline_end: datetime | None,
                    baseline_csv: Path | None, tariffs_file: Path | None,
                    as_json: bool) -> None:
    """What the engine saved on SITE_FILE's heating and public lighting from --from to --to:
    kWh, euros and CO2, weather-normalised against a baseline year, with the uncertainty
    (docs/savings.md). Exits 2 when the figures cannot be made, saying why."""
    from gtb.savings.baseline import SavingsError
    from gtb.savings.readings import load_baseline_csv
    from gtb.savings.site import site_savings
    from gtb.savings.tariffs import DEFAULT_TARIFFS, TariffsError, load_tariffs

    site = load_or_exit(site_file)
    if (baseline_start is None) != (baseline_end is None):
        raise click.UsageError("give both --baseline-from and --baseline-to, or neither")
    if not db.is_file():
        raise click.BadParameter(f"no store at {db}", param_hint="--db")
    try:
        tariffs = DEFAULT_TARIFFS if tariffs_file is None else load_tariffs(tariffs_file)
        readings = weather = None
        if baseline_csv is not None:
            readings, weather = load_baseline_csv(baseline_csv)
            unknown = sorted(set(readings) - {ref.key for ref in site.points()})
            if unknown:
                errors.print(f"[yellow]{baseline_csv}: no such meter in {site_file}, ignored: "
                             f"{', '.join(unknown)}[/yellow]", highlight=False)
        baseline = (None if baseline_start is None or baseline_end is None
                    else (baseline_start.date(), baseline_end.date()))
        with Store(db) as store:
            result = site_savings(store, site, start.date(), end.date(),
                                  baseline=baseline, tariffs=tariffs,
                                  readings=readings, weather=weather)
    except (SavingsError, TariffsError, StoreError) as exc:
        errors.print(f"[red]{exc}[/red]", highlight=False)
        sys.exit(2)
    if result.excluded:
        for excluded in result.excluded:
            errors.print(f"[red]{excluded.reason_en}[/red]", highlight=False)
        errors.print("[red]no figures: every heating meter needs its baseline[/red]")
        sys.exit(2)
    if as_json:
        echo_json(result.as_dict())
        return
    print_savings(result)
