"""The savings pages on a real store holding two years of synthetic daily history: a
baseline year under a fixed programme, then a year under the engine with a planted saving
(a quarter of the heating, nearly half of the public lighting). The pages must find the
planted figure within its uncertainty, draw the bars with their table, print a page per
building, say clearly when there is no baseline yet, and speak English on request."""

from __future__ import annotations

import html
import math
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pytest

from gtb.config import parse_site
from gtb.model import Site
from gtb.savings.baseline import day_types
from gtb.savings.degree_days import hdd_costic
from gtb.savings.lighting import dark_hours
from gtb.savings.readings import heating_meters
from gtb.savings.site import site_savings
from gtb.store import Store
from gtb.store.samples import Sample
from web import savings as web_savings

from .conftest import DEMO_SITE
from .web_rig import NOW, PARIS, PanelRig, panel_rig

FIRST = date(2024, 1, 1)
ENGINE = date(2025, 1, 12)  # the baseline is the 365 days before
YESTERDAY = NOW.date() - timedelta(days=1)  # the figures stop there
HEATING_SAVED = 0.25
LIGHTING_SAVED = 0.45
BALANCE = 16.0
NOISE = 0.04
OPEN_KWH, CLOSED_KWH, KWH_PER_DEGREE_DAY = 60.0, 20.0, 10.0
BUILDINGS = ("mairie", "ecole", "gymnase", "mediatheque", "creche")


@dataclass(frozen=True)
class History:
    db: Path
    planted: dict[str, float]
    """kWh avoided by construction over the engine's days: per building, per cabinet, and
    ``commune`` in all."""


def write_history(site: Site, db: Path, first: date, last: date, engine: date | None,
                  seed: int = 0) -> dict[str, float]:
    """Daily history from ``first`` to ``last`` written as the engine does: outdoor
    temperatures every hour; meters as cumulative indexes read at 23:30 (heating used by
    the day's end, the lighting by the evening); hourly rollups; the engine's start.
    Heating per day = a fixed part by day type + a slope x degree-days (COSTIC, 16 °C),
    with 4 % noise, less a quarter from the engine's start; lighting dusk to dawn, less
    45 % from the engine's start. Returns the planted avoided kWh."""
    rng = np.random.default_rng(seed)
    noise = {b.id: np.random.default_rng([seed, n]) for n, b in enumerate(site.buildings)}
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    types = {b.id: day_types(site, b, days) for b in site.buildings}
    outdoor = [ref.key for ref in site.points() if ref.role.value == "outdoor_temperature"]
    index: dict[str, float] = {}
    planted: dict[str, float] = {}
    samples: list[Sample] = []
    for day in days:
        mean = (10.5 - 7.5 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 20) / 365.25)
                + rng.normal(0, 2.5))
        swing = 3 + rng.uniform(0, 3)
        hdd = float(hdd_costic(mean - swing, mean + swing, BALANCE))
        saving = engine is not None and day >= engine
        t = datetime.combine(day, time(), PARIS).astimezone(UTC)
        stop = datetime.combine(day + timedelta(days=1), time(), PARIS).astimezone(UTC)
        while t < stop:  # 23 or 25 hours on clock-change days
            hour = t.astimezone(PARIS).hour
            # The day's minimum at 03:00, its maximum at 15:00.
            value = round(mean + swing * math.sin(2 * math.pi * (hour - 9) / 24), 3)
            samples += [Sample(key, t, value) for key in outdoor]
            t += timedelta(hours=1)
        evening = datetime.combine(day, time(23, 30), PARIS).astimezone(UTC)
        for b in site.buildings:
            expected = (OPEN_KWH if types[b.id][day] == "school" else CLOSED_KWH) \
                + KWH_PER_DEGREE_DAY * hdd
            used = expected * (1 - HEATING_SAVED if saving else 1.0) * (
                1 + noise[b.id].normal(0, NOISE))
            if saving and heating_meters(site, b):  # unmetered (the salle des fêtes): unseen
                planted[b.id] = planted.get(b.id, 0.0) + HEATING_SAVED * expected
            for key in heating_meters(site, b):
                index[key] = index.get(key, 1000.0) + used
                samples.append(Sample(key, evening, round(index[key], 3)))
        for cabinet in site.cabinets:
            former = cabinet.power_kw * dark_hours(site.latitude, site.longitude, PARIS, day)
            if saving:
                planted[cabinet.id] = planted.get(cabinet.id, 0.0) + LIGHTING_SAVED * former
            key = f"{cabinet.id}.compteur"
            index[key] = index.get(key, 0.0) + former * (1 - LIGHTING_SAVED if saving else 1.0)
            samples.append(Sample(key, evening, round(index[key], 3)))
    with Store(db) as store:
        store.samples.write(samples)
        store.rollups.compute(datetime.combine(first, time(), PARIS),
                     datetime.combine(last + timedelta(days=1), time(), PARIS))
        if engine is not None:
            store.audit.record(datetime.combine(engine, time(6), PARIS), "engine", "engine",
                               "Moteur démarré")
    planted["commune"] = sum(planted.values())
    return planted


@pytest.fixture(scope="module")
def two_years(tmp_path_factory: pytest.TempPathFactory) -> History:
    """Written once for the module; each test works on its own copy."""
    db = tmp_path_factory.mktemp("history") / "gtb.sqlite"
    site = parse_site(DEMO_SITE.read_text(encoding="utf-8"), "demo-commune.yaml")
    return History(db, write_history(site, db, FIRST, YESTERDAY, ENGINE))


@pytest.fixture
def rig(demo_site: Site, tmp_path: Path, two_years: History) -> Iterator[PanelRig]:
    db = tmp_path / "gtb.sqlite"
    shutil.copy(two_years.db, db)
    yield from panel_rig(demo_site, db)


def text(page: str) -> str:
    """The page's text, spaces made plain, thousands without separator: « 12400 kWh »."""
    plain = html.unescape(re.sub(r"<[^>]+>", " ", page)).replace("\u202f", "")
    return re.sub(r"\s+", " ", plain.replace("\xa0", " "))


def number(value: str) -> float:
    return float(value.replace(" ", "").replace(",", "."))


AVOIDED = re.compile(r"([\d,]+) kWh évités ± ([\d,]+) kWh \(90 % de confiance\)")


def section(page: str, element_id: str) -> str:
    start = page.index(f'id="{element_id}"')
    return page[start:page.index("</article>", start)]


def test_the_page_finds_the_planted_saving_within_its_uncertainty(
    rig: PanelRig, two_years: History
) -> None:
    page = rig.client("mairie-viewer").get("/savings").get_data(as_text=True)
    for building in BUILDINGS:
        card = text(section(page, f"building-{building}"))
        assert "économie acceptée (ASHRAE Guideline 14)" in card
        # Each period's headline, read aloud: the kWh, euros and CO2e saved, at equal weather.
        assert re.search(r"Le bâtiment « [^»]+ » a économisé \d+ kWh à météo égale \(± \d+ kWh "
                         r"à 90 % de confiance\), soit \d+ € économisés et \d+ kg de CO2e "
                         r"évités\.", card), card
        this_month, since_start = AVOIDED.findall(card)
        avoided, uncertainty = number(since_start[0]), number(since_start[1])
        planted = two_years.planted[building]
        assert 0 < uncertainty < 0.1 * planted
        assert abs(avoided - planted) <= uncertainty + 0.02 * planted, (building, avoided,
                                                                       planted)
        assert number(this_month[0]) > 0
    commune = text(section(page, "since-start"))
    avoided, uncertainty = map(number, AVOIDED.findall(commune)[0])
    planted = two_years.planted["commune"]
    assert abs(avoided - planted) <= uncertainty + 0.02 * planted
    # The euros and the CO2 come with their uncertainty too.
    assert re.search(r"[\d,]+ € économisés ± [\d,]+ €", commune)
    assert re.search(r"[\d,]+ t CO2e évités ± [\d,]+ t", commune)
    whole = text(page)
    assert "Chiffres arrêtés au 11/01/2026 inclus" in whole
    assert "depuis que le moteur a pris la main, le 12/01/2025" in whole


def test_the_lighting_per_cabinet(rig: PanelRig, two_years: History) -> None:
    page = text(rig.client("mairie-viewer").get("/savings").get_data(as_text=True))
    for cabinet in rig.site.cabinets:
        found = re.search(re.escape(cabinet.name) + r" (\d+) (\d+) (\d+) ± (\d+) ([\d,]+) %",
                          page)
        assert found, cabinet.name
        former, metered, avoided, uncertainty = map(float, found.groups()[:4])
        # Against the former operation's estimate: its hours and power (5 % each) and
        # the meter (2 %), rounded alike to the uncertainty's two digits.
        assert uncertainty == pytest.approx(math.hypot(former * math.hypot(0.05, 0.05),
                                                       metered * 0.02), rel=0.05)
        assert abs(avoided - two_years.planted[cabinet.id]) <= uncertainty
        assert abs(avoided - (former - metered)) <= 0.05 * uncertainty
        assert number(found[5]) == pytest.approx(100 * LIGHTING_SAVED, abs=0.1)
    assert "Incertitude de l'éclairage : l'ancien fonctionnement estimé" in page
    assert "Sommes : les incertitudes des compteurs de chauffage s'additionnent" in page


def test_the_bars_are_svg_with_a_title_and_a_table(rig: PanelRig) -> None:
    page = rig.client("mairie-viewer").get("/savings").get_data(as_text=True)
    svg = page[page.index('<svg viewBox="0 0 640 240" role="img" '
                          'aria-labelledby="bars-commune-title bars-commune-desc"'):]
    svg = svg[:svg.index("</svg>")]
    assert ('<title id="bars-commune-title">Chauffage de la commune, mois par mois : mesuré '
            'et référence</title>') in svg
    months = 13  # January 2025 (from the 12th) to January 2026 (to the 11th)
    assert svg.count('<rect class="actual"') == svg.count('<rect class="baseline"') == months
    table = text(page[page.index("<caption>Chauffage de la commune"):])
    for month in ("janvier 2025", "juillet 2025", "décembre 2025", "janvier 2026"):
        assert month in table
    # Each month's row: baseline, metered, avoided, and a quarter of it avoided.
    december = re.search(r"décembre 2025 (\d+) (\d+) (\d+) ([\d,]+) %", table)
    assert december is not None
    assert number(december[4]) == pytest.approx(100 * HEATING_SAVED, abs=2)
    assert "<script" not in svg


def test_the_path_of_the_decret_tertiaire(rig: PanelRig) -> None:
    page = text(rig.client("mairie-viewer").get("/savings").get_data(as_text=True))
    found = re.search(r"a consommé (\d+) % de moins que pendant l'année de référence "
                      r"\(13/01/2024 – 11/01/2025\)", page)
    assert found is not None
    assert int(found[1]) == pytest.approx(100 * HEATING_SAVED, abs=2)
    assert "la commune est en avance sur ce chemin." in page
    assert "Trajectoire du décret tertiaire" in page
    assert "(Gymnase municipal)" in page  # the one building of 1,000 m² or more
    assert "2030 (objectif) 60 %" in page
    # The page shows the path gtb.savings computes, which `gtb savings` prints too.
    decree = site_savings(rig.store, rig.site, ENGINE, YESTERDAY).trajectory
    assert decree is not None
    path = decree.commune
    assert [b.building for b in decree.buildings] == ["gymnase"]
    assert (f"sur la période du {path.window[0]:%d/%m/%Y} au {path.window[1]:%d/%m/%Y}. Sur un "
            f"chemin régulier vers −40 % en 2030, il faudrait en être à −{path.needed:.0f} % : "
            f"la commune est en avance sur ce chemin. Il reste {path.remaining:.0f} points à "
            "gagner d'ici 2030.") in page
    assert int(found[1]) == round(path.reduction)
    for point in path.points:
        assert (f"{point.start:%d/%m/%Y} – {point.end:%d/%m/%Y} {point.index:.0f} %") in page


def test_the_building_page_gives_its_models_quality(rig: PanelRig) -> None:
    page = text(rig.client("mairie-viewer").get("/savings/mairie").get_data(as_text=True))
    assert "Économies — Mairie" in page
    assert "Année de référence 13/01/2024 – 11/01/2025 (365 jours de relevés)" in page
    assert f"Le chauffage démarre sous {BALANCE:.1f} °C".replace(".", ",") in page
    assert ("À 68 % de confiance, l'incertitude de l'économie est inférieure à la moitié de "
            "l'économie : l'ASHRAE Guideline 14 accepte ce chiffre.") in page
    # The model and Guideline 14's criteria are for the auditor, in a collapsed section.
    raw = rig.client("mairie-viewer").get("/savings/mairie").get_data(as_text=True)
    details = raw[raw.index('<details class="auditor">'):]
    details = text(details[:details.index("</details>")])
    assert details.strip().startswith("Détails pour l'auditeur")
    r2 = re.search(r"\(R²\) (\d+) %", details)
    assert r2 is not None and int(r2[1]) >= 90
    assert "jour ouvert" in details and "Par degré-jour (kWh)" in details
    assert "Aucune part fixe n'est négative" in details
    acceptance = re.search(r"Guideline 14, bâtiment entier \(option C\) : incertitude à 68 % "
                           r"sous 50 % de l'économie ([\d,]+) % oui", details)
    assert acceptance is not None and number(acceptance[1]) < 50
    calibration = re.search(r"Guideline 14, calage d'une simulation \(pour information\) : "
                            r"CV\(RMSE\) mensuel ≤ 15 % ([\d,]+) % (oui|non)", details)
    assert calibration is not None
    assert "Sources : CalTRACK 2.0" in details
    assert "Part fixe" not in text(raw[:raw.index('<details class="auditor">')])
    assert AVOIDED.search(page)
    assert rig.client("mairie-viewer").get("/savings/grenier").status_code == 404


def test_the_monthly_report_has_a_page_per_building_and_prints(rig: PanelRig) -> None:
    client = rig.client("mairie-viewer")
    page = client.get("/savings/report?month=2025-12").get_data(as_text=True)
    sections = re.findall(r'<section class="report-building" id="report-([\w-]+)"', page)
    assert sections == list(BUILDINGS)
    assert '<button type="button" data-print>Imprimer</button>' in page
    plain = text(page)
    assert "Rapport mensuel des économies d'énergie — décembre 2025" in plain
    assert "Période du rapport : 01/12/2025 – 31/12/2025" in plain
    assert re.search(r"En décembre 2025, le bâtiment « Mairie » a consommé \d+ kWh de "
                     r"chauffage ; sans le pilotage, avec la même météo et le même "
                     r"calendrier, la référence en prévoyait \d+\.", plain)
    assert len(AVOIDED.findall(plain)) >= 1 + len(BUILDINGS)
    # Each building's bars stop at the report's month: twelve of them.
    mairie = page[page.index('id="report-mairie"'):page.index('id="report-ecole"')]
    assert mairie.count('<rect class="actual"') == 12
    assert "ASHRAE Guideline 14" in mairie
    css = client.get("/static/panel.css").get_data(as_text=True)
    printed = css[css.index("@media print"):]
    assert "@page { size: A4;" in printed
    assert ".report-building { break-before: page;" in printed
    assert "body > header, .skip, .no-print" in printed


def test_a_report_is_fixed_to_its_month(rig: PanelRig) -> None:
    client = rig.client("mairie-viewer")

    def since_start(page: str) -> str:
        plain = text(page)
        return plain[plain.index("Depuis le démarrage du moteur"):plain.index("Éclairage public")]

    before = since_start(client.get("/savings/report?month=2025-12").get_data(as_text=True))
    assert before.startswith("Depuis le démarrage du moteur (12/01/2025 – 31/12/2025)")
    overview = text(client.get("/savings").get_data(as_text=True))
    # Later data: the town hall's meter counts 5,000 kWh more on 5 January 2026.
    meter = heating_meters(rig.site, rig.site.buildings[0])[0]
    evening = datetime.combine(date(2026, 1, 5), time(23, 45), PARIS)
    (last,) = rig.store.samples.read(meter, evening - timedelta(hours=1), evening)
    assert last.value is not None
    rig.store.samples.write([Sample(meter, evening, last.value + 5000.0)])
    rig.store.rollups.compute(evening - timedelta(hours=1), evening + timedelta(hours=1))
    assert text(client.get("/savings").get_data(as_text=True)) != overview
    after = since_start(client.get("/savings/report?month=2025-12").get_data(as_text=True))
    assert after == before


def test_the_report_of_a_month_without_figures_and_a_bad_month(rig: PanelRig) -> None:
    client = rig.client("mairie-viewer")
    page = text(client.get("/savings/report?month=2024-06").get_data(as_text=True))
    assert "Pas de rapport pour ce mois" in page
    assert "choisissez un mois de janvier 2025 à janvier 2026" in page
    refused = client.get("/savings/report?month=juin")
    assert refused.status_code == 400
    assert "« juin » n'est pas un mois" in html.unescape(refused.get_data(as_text=True))
    # Without a month: the last complete one.
    assert "— décembre 2025</h1>" in client.get("/savings/report").get_data(as_text=True)


def test_viewers_see_the_pages_and_strangers_sign_in_first(rig: PanelRig) -> None:
    for path in ("/savings", "/savings/mairie", "/savings/report?month=2025-12"):
        assert rig.client("mairie-viewer").get(path).status_code == 200
        response = rig.client().get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")
    nav = rig.client("mairie-viewer").get("/").get_data(as_text=True)
    assert '<a href="/savings">Économies</a>' in nav


def test_figures_are_computed_once_a_day_until_the_history_changes(
    rig: PanelRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[date, date]] = []
    compute = web_savings.site_savings

    def counted(*args: object, **kwargs: object) -> object:
        calls.append((args[2], args[3]))  # type: ignore[arg-type]
        return compute(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(web_savings, "site_savings", counted)
    client = rig.client("mairie-viewer")
    for path in ("/savings", "/savings/mairie", "/savings", "/savings/report?month=2025-12"):
        assert client.get(path).status_code == 200
    # The report's figures end with its month (a reprint gives the same): computed apart.
    assert calls == [(ENGINE, YESTERDAY), (ENGINE, date(2025, 12, 31))]
    # A late reading of yesterday changes the history: the figures are made again.
    late = datetime.combine(YESTERDAY, time(12, 30), PARIS)
    rig.store.samples.write([Sample("mairie.temp-ext", late, 5.0)])
    rig.store.rollups.compute(late, late + timedelta(hours=1))
    assert client.get("/savings").status_code == 200
    assert len(calls) == 3
    # And a new day too (the session of yesterday has ended: signed in again).
    rig.clock.advance(86400)
    assert rig.client("mairie-viewer").get("/savings").status_code == 200
    assert calls[-1] == (ENGINE, YESTERDAY + timedelta(days=1))


@pytest.fixture
def young(demo_site: Site, tmp_path: Path) -> Iterator[PanelRig]:
    """Three months of history, the engine started a month ago: no baseline yet."""
    db = tmp_path / "young.sqlite"
    write_history(demo_site, db, YESTERDAY - timedelta(days=90), YESTERDAY,
                  NOW.date() - timedelta(days=30))
    yield from panel_rig(demo_site, db)


def test_without_a_baseline_the_page_says_so_and_what_is_needed(young: PanelRig) -> None:
    client = young.client("mairie-viewer")
    page = text(client.get("/savings").get_data(as_text=True))
    assert "Pas encore de référence : les économies ne peuvent pas encore être chiffrées" in page
    assert "une année entière de relevés avant que le moteur ne prenne la main" in page
    assert ("Le moteur a pris la main le 13/12/2025 ; l'année de référence va donc du "
            "13/12/2024 au 12/12/2025.") in page
    assert ("Relevés de chauffage dans le stockage sur les 365 derniers jours : 91 jours "
            "(depuis le 13/10/2025)") in page
    assert "305 des 365 jours de la référence n'ont pas de données" in page
    assert "kWh évités" not in page
    for path in ("/savings/mairie", "/savings/report"):
        assert "Pas encore de référence" in text(client.get(path).get_data(as_text=True))


def test_before_the_engine_starts_the_page_says_when_figures_will_come(
    demo_site: Site, tmp_path: Path
) -> None:
    db = tmp_path / "gtb.sqlite"
    write_history(demo_site, db, YESTERDAY - timedelta(days=20), YESTERDAY, None)
    for rig in panel_rig(demo_site, db):
        page = text(rig.client("mairie-viewer").get("/savings").get_data(as_text=True))
        assert "Le moteur n'a pas encore pris la main" in page
        assert "(depuis le 22/12/2025)" in page


def test_the_day_the_engine_takes_over_the_figures_are_for_tomorrow(
    demo_site: Site, tmp_path: Path
) -> None:
    db = tmp_path / "gtb.sqlite"
    write_history(demo_site, db, YESTERDAY - timedelta(days=20), YESTERDAY, NOW.date())
    for rig in panel_rig(demo_site, db):
        page = text(rig.client("mairie-viewer").get("/savings").get_data(as_text=True))
        assert "les premiers chiffres paraîtront demain" in page


def test_the_pages_in_english(rig: PanelRig, young: PanelRig) -> None:
    client = rig.client("mairie-viewer")
    client.get("/lang/en")
    page = text(client.get("/savings").get_data(as_text=True))
    for english in ("Energy savings", "kWh avoided ±", "(90 % confidence)", "This month",
                    "Since the engine took over", "Path of the décret tertiaire",
                    "the commune is ahead of this path.", "Public lighting, per cabinet",
                    "How to read these figures", "saving accepted (ASHRAE Guideline 14)",
                    "The commune saved"):
        assert english in page
    assert "évités" not in page and "Comment lire" not in page
    page = text(client.get("/savings/mairie").get_data(as_text=True))
    assert "Quality of the baseline" in page and "Heating starts below 16.0 °C" in page
    page = text(client.get("/savings/report?month=2025-12").get_data(as_text=True))
    assert "Monthly energy savings report — December 2025" in page
    assert "In December 2025, the building “Mairie” used" in page and "Print" in page
    young_client = young.client("mairie-viewer")
    young_client.get("/lang/en")
    page = text(young_client.get("/savings").get_data(as_text=True))
    assert "No baseline yet: the savings cannot be counted yet" in page
    # No French space before a colon in English.
    assert "Heating readings in the store over the last 365 days: 91 days" in page


TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"


@pytest.mark.parametrize("template", ["savings.html", "savings_building.html",
                                      "savings_report.html", "_savings.html"])
def test_every_text_of_the_pages_has_its_english(rig: PanelRig, template: str) -> None:
    texts = re.findall(r'_\("([^"]+)"\)', (TEMPLATES / template).read_text(encoding="utf-8"))
    assert texts
    catalog = rig.app.extensions["gtb_i18n"]
    assert [t for t in texts if t not in catalog] == []
    named = [*web_savings.DAY_TYPES.values(), *web_savings.ENERGIES.values()]
    assert [t for t in named if t not in catalog] == []
    # No other page's catalog gives one of these texts another English.
    assert {t: catalog[t] for t in web_savings.EN if catalog[t] != web_savings.EN[t]} == {}
