"""The overview, phone first: what needs attention (alarms, overrides, zones off their
setpoint), then what heats now, each in one line with its details one tap away; the mode
« dérogation » while an override holds. Flask's test client on a real store file; the
engine's status and readings are written as its tick writes them (tests/web_rig.py)."""

from __future__ import annotations

import html
import re
import string
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from gtb.model import Site
from gtb.model.points import HeatingLevel, Quality
from gtb.store.samples import Sample
from gtb.store.status import ZoneStatus
from gtb.texts import Reason
from gtb.texts.catalogue import CATALOGUE, SHORT
from web.attention import COVERED, OFF_BY, OFF_FOR, off_setpoint
from web.auth import hash_token

from .web_rig import NOW, PanelRig, csrf, panel_rig, zone_status


@pytest.fixture
def rig(demo_site: Site, tmp_path: Path) -> Iterator[PanelRig]:
    yield from panel_rig(demo_site, tmp_path / "gtb.sqlite")


ACCUEIL = "/zone/mairie/accueil"


def page(rig: PanelRig, path: str = "/", who: str = "mairie-viewer") -> str:
    return html.unescape(rig.client(who).get(path).get_data(as_text=True))


def readings(rig: PanelRig, key: str, values: list[float], every: int = 5) -> None:
    """``values`` of a point, the last one now, one every ``every`` minutes before."""
    rig.store.samples.write(
        Sample(key, NOW - timedelta(minutes=every * (len(values) - 1 - n)), value)
        for n, value in enumerate(values))


def an_hour_at(rig: PanelRig, zone: str, temperature: float, setpoint: float) -> None:
    """The zone's temperature and setpoint read every 5 min over the last 65 minutes."""
    readings(rig, f"{zone}.temperature", [temperature] * 14)
    readings(rig, f"{zone}.consigne", [setpoint] * 14)


def preheat(setpoint: float = 19.0) -> Reason:
    """A learned pre-heat's reason, as ``controllers/heating.py`` gives it."""
    detail = Reason.of("heating.preheat_detail", days=12, estimate=Reason.of(
        "duration", minutes=52.0), outdoor=1.3, source=Reason.of("outdoor.forecast"),
        power=0.8, margin=20.0)
    return Reason.of("heating.preheat", at=NOW, start=NOW - timedelta(minutes=20),
                     arrival=NOW + timedelta(minutes=40), late=0.0, detail=detail)


def learned_setback() -> Reason:
    """The reason that ran to five lines with nested brackets: a learned setback whose
    forecast and setback say more in brackets, then a pre-heat waiting for the plant."""
    forecast = Reason.of("forecast.learned", start=NOW + timedelta(hours=20),
                         end=NOW + timedelta(hours=28), similar=9, weeks=6, covered=7,
                         kept=9, prior=0.3, confidence=0.7)
    setback = Reason.of("setback.reduced_surprises", setpoint=16.0, surprise=0.2)
    then = Reason.of("heating.waiting_plant", at=NOW, begin=NOW + timedelta(hours=19),
                     late=25.0, arrival=NOW + timedelta(hours=20))
    return Reason.of("heating.learned_setback", forecast=forecast, setback=setback, then=then)


def lines(text: str) -> list[tuple[str, str]]:
    """The overview's lines in ``text``: where, and what, in one line."""
    return re.findall(r'<span class="where">(.*?)</span><details id="[^"]+"><summary>'
                      r'(.*?)</summary>', text)


def section(text: str, start: str, end: str) -> str:
    return text[text.index(start):text.index(end)]


def test_alarms_overrides_and_zones_off_their_setpoint_come_first_in_that_order(
    rig: PanelRig,
) -> None:
    rig.store.alarms.raise_("device:mairie", at=NOW - timedelta(minutes=30), severity="critical",
                            message="Automate de la mairie muet (Modbus 127.0.0.1)",
                            building="mairie", message_en="Town hall controller silent")
    client = rig.client("marie")
    response = client.post(ACCUEIL + "/override", data={
        "value": "20,5", "duration": "2h", "why": "permanence (élections)",
        "csrf_token": csrf(client, ACCUEIL)})
    assert response.status_code == 302
    # The sports hall has been at 14 °C for an hour under its comfort setpoint of 19 °C.
    rig.show_zone("gymnase.salle", NOW, level=HeatingLevel.COMFORT, setpoint=19.0,
                  temperature=14.0, reason=Reason.of("heating.occupied", at=NOW, until=NOW
                                                     + timedelta(hours=2), setpoint=19.0))
    an_hour_at(rig, "gymnase.salle", 14.0, 19.0)
    text = page(rig)
    attention = section(text, 'id="attention"', 'id="heating"')
    assert lines(attention) == [
        ("critique — Mairie", "Automate de la mairie muet (Modbus 127.0.0.1)"),
        ("Mairie — Accueil et état civil", "20,5 °C jusqu'à 12:00, par marie"),
        ("Gymnase municipal — Salle de sport", "trop froid : 14,0 °C, consigne 19,0 °C")]
    assert attention.index("Alarmes en cours") < attention.index("Dérogations en cours") < (
        attention.index("Zones loin de leur consigne"))
    assert "« permanence (élections) », depuis le 12/01/2026 à 10:00" in attention
    assert "en attente du prochain passage du moteur" in attention
    assert "Rien à signaler" not in attention
    # What heats now comes after, then the buildings.
    assert text.index('id="heating"') < text.index('id="buildings"')


def test_a_calm_commune_says_so_in_one_sentence(rig: PanelRig) -> None:
    rig.show_zone("mairie.accueil", NOW)
    an_hour_at(rig, "mairie.accueil", 16.5, 16.0)
    attention = section(page(rig), 'id="attention"', 'id="heating"')
    assert "Rien à signaler : aucune alarme, aucune dérogation" in attention
    assert "<h3" not in attention  # empty lists are not shown
    client = rig.client("mairie-viewer")
    client.get("/lang/en")
    english = html.unescape(client.get("/").get_data(as_text=True))
    assert "Nothing to report: no alarm, no override, every zone near its setpoint." in english
    assert "No zone is heating." in english


def test_a_zone_in_preheat_is_not_off_its_setpoint_but_heating(rig: PanelRig) -> None:
    """Both zones are 4 K under 19 °C for an hour: the one warming up for an arrival is
    heating, as it should; the other is off its setpoint."""
    statuses = []
    for zone, reason in (("mairie.bureaux", preheat()), ("mairie.accueil", Reason.of(
            "heating.occupied_open", setpoint=19.0))):
        statuses.append(zone_status(rig.site, zone, NOW, level=HeatingLevel.COMFORT,
                                    setpoint=19.0, temperature=15.0, reason=reason))
        an_hour_at(rig, zone, 15.0, 19.0)
        readings(rig, f"{zone}.vanne", [80.0])
    rig.store.status.save(NOW, statuses, ())  # the engine's tick: every zone at once
    text = page(rig)
    off = section(text, 'id="off-setpoint"', 'id="heating"')
    assert lines(off) == [("Mairie — Accueil et état civil",
                           "trop froid : 15,0 °C, consigne 19,0 °C")]
    heating = section(text, 'id="heating"', 'id="buildings"')
    assert lines(heating) == [
        ("Mairie — Accueil et état civil", "confort, 15,0 °C → 19,0 °C"),
        ("Mairie — Bureaux du secrétariat", "préchauffage, 15,0 °C → 19,0 °C")]
    assert "vanne ou émetteur ouvert à 80 %" in heating
    # Its details: the full reason, and what lies behind it.
    assert "Préchauffage démarré à 09:40 pour l'arrivée prévue à 10:40" in heating
    assert "arrivée apprise sur 12 jours semblables" in heating


def test_a_closed_valve_is_not_heating(rig: PanelRig) -> None:
    rig.show_zone("mairie.accueil", NOW, level=HeatingLevel.COMFORT, setpoint=19.0,
                  temperature=19.5, reason=Reason.of("heating.occupied_open", setpoint=19.0))
    readings(rig, "mairie.accueil.vanne", [0.0])
    assert "Aucune zone ne chauffe." in section(page(rig), 'id="heating"', 'id="buildings"')


def test_the_rule_wants_every_reading_of_the_hour_off_and_an_hour_of_readings(
    demo_site: Site,
) -> None:
    status = zone_status_of(demo_site, HeatingLevel.COMFORT, "heating.occupied_open")
    minutes = int(OFF_FOR.total_seconds() // 60)

    def temperatures(values: list[float], every: int = 5) -> list[Sample]:
        return [Sample("z.t", NOW - timedelta(minutes=every * (len(values) - 1 - n)), v)
                for n, v in enumerate(values)]

    setpoints = [Sample("z.c", NOW - 2 * OFF_FOR, 19.0)]
    hour = minutes // 5 + 1
    cold = 19.0 - OFF_BY - 0.1
    assert off_setpoint(status, temperatures([cold] * hour), setpoints, NOW) == "cold"
    # One reading within the tolerance in the hour: not off.
    near = [cold] * hour
    near[3] = 19.0 - OFF_BY + 0.1
    assert off_setpoint(status, temperatures(near), setpoints, NOW) is None
    # A single reading, or readings that began less than an hour ago, decide nothing.
    assert off_setpoint(status, temperatures([10.0]), setpoints, NOW) is None
    late = (OFF_FOR - COVERED) // timedelta(minutes=5) - 1
    assert off_setpoint(status, temperatures([10.0] * late), setpoints, NOW) is None
    # Readings that stopped: no evidence of now.
    stopped = [Sample(s.point, s.ts - 2 * COVERED, s.value)
               for s in temperatures([10.0] * (hour + 5))]
    assert off_setpoint(status, stopped, setpoints, NOW) is None
    # The sensor failed for the last quarter of an hour: no evidence of now.
    failed = temperatures([cold] * hour)
    failed[-1] = Sample("z.t", NOW, None, Quality.FAILED)
    failed[-2] = Sample("z.t", NOW - timedelta(minutes=5), None, Quality.FAILED)
    failed[-3] = Sample("z.t", NOW - timedelta(minutes=10), None, Quality.FAILED)
    assert off_setpoint(status, failed, setpoints, NOW) is None
    # The setpoint in force at each reading: it rose to 19 °C 20 minutes ago (from 16 °C,
    # which the zone was at): not an hour off.
    risen = [Sample("z.c", NOW - 2 * OFF_FOR, 16.0), Sample("z.c", NOW - timedelta(minutes=20),
                                                           19.0)]
    assert off_setpoint(status, temperatures([16.0] * hour), risen, NOW) is None


def test_too_warm_counts_in_comfort_only(demo_site: Site) -> None:
    warm = [Sample("z.t", NOW - timedelta(minutes=5 * n), 19.0) for n in range(13)][::-1]
    setpoint = [Sample("z.c", NOW - 2 * OFF_FOR, 16.0)]
    comfort = [Sample("z.c", NOW - 2 * OFF_FOR, 17.0)]
    # Cooling down to its reduced setpoint is by design; above comfort is not.
    assert off_setpoint(zone_status_of(demo_site, HeatingLevel.REDUCED, "heating.unoccupied"),
                        warm, setpoint, NOW) is None
    assert off_setpoint(zone_status_of(demo_site, HeatingLevel.COMFORT, "heating.occupied_open"),
                        warm, comfort, NOW) == "warm"
    assert off_setpoint(zone_status_of(demo_site, HeatingLevel.COMFORT, "heating.early_stop"),
                        warm, comfort, NOW) is None


def zone_status_of(site: Site, level: HeatingLevel, code: str) -> ZoneStatus:
    """The town hall's reception at ``level`` for the reason ``code`` (its facts made up)."""
    return zone_status(site, "mairie.accueil", NOW, level=level, setpoint=19.0,
                       reason=Reason.of(code, at=NOW, setpoint=19.0, floor=18.0,
                                        end=NOW + timedelta(hours=1)))


def test_each_reason_is_one_line_without_brackets_and_its_details_say_it_all(
    rig: PanelRig,
) -> None:
    rig.store.status.save(NOW, [
        zone_status(rig.site, "mairie.accueil", NOW, reason=learned_setback()),
        zone_status(rig.site, "mairie.bureaux", NOW, level=HeatingLevel.COMFORT, setpoint=19.0,
                    reason=preheat())], ())
    text = page(rig)
    buildings = text[text.index('id="buildings"'):]
    summaries = re.findall(r"<summary>(.*?)</summary>", buildings, re.S)
    assert "Inoccupé : réduit 16,0 °C, préchauffage à demain 05:00, quand le chauffage sera "\
        "disponible" in summaries
    assert "Préchauffage pour l'arrivée à 10:40" in summaries
    assert all("(" not in said and ")" not in said for said in summaries), summaries
    # One tap away: the full sentence with its brackets, and what lies behind it.
    full = learned_setback().fr
    assert full.count("(") >= 3 and full in buildings
    assert preheat().details("fr") in buildings
    client = rig.client("mairie-viewer")
    client.get("/lang/en")
    english = html.unescape(client.get("/").get_data(as_text=True))
    summaries = re.findall(r"<summary>(.*?)</summary>", english[english.index('id="buildings"'):])
    assert ("Unoccupied: reduced 16.0 °C, pre-heat at tomorrow 05:00, when heat is available"
            in summaries)
    assert all("(" not in said and ")" not in said for said in summaries), summaries


def test_the_short_forms_have_no_brackets_and_ask_only_for_the_codes_facts() -> None:
    assert set(SHORT) <= set(CATALOGUE)
    for code, (fr, en) in SHORT.items():
        assert not re.search(r"[()]", fr + en), code
        fields = [{name for _, name, _, _ in string.Formatter().parse(text) if name}
                  for text in (fr, en, *CATALOGUE[code])]
        assert fields[0] == fields[1] and fields[0] <= fields[2], code


def test_the_mode_says_override_while_one_holds_and_the_level_after(rig: PanelRig) -> None:
    """The bug: « réduit » beside a 20 °C setpoint. The engine keeps the programme's level
    (its decision) and writes the override's setpoint; people read « dérogation »."""
    client = rig.client("marie")
    response = client.post(ACCUEIL + "/override", data={
        "value": "20", "duration": "1h", "why": "réunion", "csrf_token": csrf(client, ACCUEIL)})
    assert response.status_code == 302
    until = NOW + timedelta(hours=1)
    rig.show_zone("mairie.accueil", NOW + timedelta(seconds=30), setpoint=20.0,
                  source="override", actor="marie", reason=Reason.of(
                      "override", at=NOW, who="marie", until=until, why="réunion"))
    mode = re.compile(r'<span class="level (\w+)">([^<]+)</span>')
    for path in ("/", "/building/mairie", ACCUEIL):
        shown = mode.search(page(rig, path, "marie"))
        assert shown is not None and shown.groups() == ("override", "dérogation"), path
    token = "gtb_overview-test"
    rig.store.accounts.add_token("marie", hash_token(token), "tests", at=NOW,
                                 expires_at=NOW + timedelta(days=1))
    api = rig.app.test_client().get("/api/zones/mairie/accueil",
                                    headers={"Authorization": f"Bearer {token}"}).get_json()
    assert (api["status"]["mode"], api["status"]["level"]) == ("override", "reduced")
    # It ends: the engine's next tick follows the programme again.
    rig.clock.advance((until - NOW).total_seconds() + 60)
    rig.show_zone("mairie.accueil", until + timedelta(minutes=1), setpoint=16.0)
    for path in ("/", "/building/mairie", ACCUEIL):
        shown = mode.search(page(rig, path, "marie"))
        assert shown is not None and shown.groups() == ("reduced", "réduit"), path
    client.get("/lang/en")
    rig.show_zone("mairie.accueil", until + timedelta(minutes=2), setpoint=20.0,
                  source="override", reason=Reason.of("override", at=NOW, who="marie",
                                                      until=until, why="réunion"))
    english = html.unescape(client.get(ACCUEIL).get_data(as_text=True))
    assert '<span class="level override">override</span>' in english


def test_the_building_page_stacks_its_zones_on_a_phone(rig: PanelRig) -> None:
    """No table that scrolls sideways: each cell of a zone is labelled, for the phone's
    stacked rows (panel.css, under 40rem)."""
    text = page(rig, "/building/mairie")
    assert "table-scroll" not in text and 'class="zone-table"' in text
    assert '<td data-label="Température">' in text and '<td data-label="Mode">' in text
    assert re.search(r"@media \(max-width: 40rem\) \{[^}]*\.zone-table thead",
                     (Path(__file__).parent.parent / "web/static/panel.css").read_text())



def test_the_mayors_order_on_a_cabinet_is_an_override_in_force(rig: PanelRig) -> None:
    rig.store.overrides.add("ep-centre.relais", 1.0, start=NOW, until=NOW + timedelta(hours=4),
                            who="marie", why="cérémonie du 11 novembre", at=NOW)
    overrides = section(page(rig), 'id="overrides"', 'id="heating"')
    assert lines(overrides) == [("Éclairage public, centre-bourg",
                                 "allumé jusqu'à 14:00, par marie")]
    assert "« cérémonie du 11 novembre », depuis le 12/01/2026 à 10:00" in overrides
    assert 'href="/lighting"' in overrides
