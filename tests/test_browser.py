"""The panel end to end, in a real browser: Debian's Chromium, driven by Playwright, on a
phone-sized touch screen and on a desk's screen, against ``gtb demo`` run as a person
runs it (the virtual commune, the engine and the panel in one process, on free loopback
ports), with the accounts it prints. A screenshot of each step at each size is kept in
``test-artifacts/browser/``, named by the size (``390x844-01-viewer-overview.png``).

Never ``playwright install``: it downloads a browser of its own; the one used is Debian's
``/usr/bin/chromium`` (``make test`` installs it)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    expect,
    sync_playwright,
)

from gtb.store import Store

from .conftest import DEMO_SITE, ROOT, free_port, relocate_ports

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True, "locale": "fr-FR"}
DESK = {"viewport": {"width": 1366, "height": 768}, "device_scale_factor": 1,
        "is_mobile": False, "has_touch": False, "locale": "fr-FR"}
"""The most common laptop screen of a town hall's office, used with a mouse."""
SCREENS = {"phone": PHONE, "desk": DESK}
ARTIFACTS = ROOT / "test-artifacts" / "browser"
ZONE = "/zone/mairie/accueil"
SETPOINT = "mairie.accueil.consigne"
ENGINE_WAIT_MS = 20_000
"""At ``--speed 60`` the engine ticks every real second; this leaves room for a slow one."""
WAIT_MS = 15_000
"""What an action or an expectation waits for the page (Playwright's own 5 s for an
expectation leaves little room for a loaded 2-core machine)."""

expect.set_options(timeout=WAIT_MS)

pytestmark = pytest.mark.timeout(110)


@dataclass
class Demo:
    url: str
    db: Path
    passwords: dict[str, str]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``gtb demo`` at 60 simulated seconds per real second, stopped with Ctrl-C (SIGINT),
    on an empty store (its simulated past is tested in test_demo_history.py)."""
    folder = tmp_path_factory.mktemp("browser")
    site = folder / "demo.yaml"
    site.write_text(relocate_ports(DEMO_SITE.read_text(encoding="utf-8")), encoding="utf-8")
    db = folder / "demo.sqlite"
    out, err = folder / "stdout.txt", folder / "stderr.txt"
    args = [sys.executable, "-m", "gtb.cli", "demo", "--site", str(site), "--speed", "60",
            "--no-history", "--db", str(db), "--bacnet-port", str(free_port(2)),
            "--panel-port", str(free_port())]
    with out.open("w", encoding="utf-8") as stdout, err.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(args, cwd=folder, stdout=stdout, stderr=stderr,
                                   env={"COLUMNS": "200", "PATH": "/usr/bin:/bin",
                                        "PYTHONPATH": str(ROOT)})  # this checkout's code
    try:
        url = _wait_for(lambda: _panel_url(out.read_text(encoding="utf-8")), process, err)
        yield Demo(url, db, _passwords(out.read_text(encoding="utf-8")))
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert "Traceback" not in err.read_text(encoding="utf-8"), err.read_text(encoding="utf-8")


def _wait_for(found: Callable[[], str | None], process: subprocess.Popen[bytes],
              err: Path) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (value := found()) is not None:
            return value
        if process.poll() is not None:
            raise AssertionError(f"gtb demo ended ({process.returncode}): "
                                 f"{err.read_text(encoding='utf-8')}")
        time.sleep(0.1)
    raise AssertionError(f"gtb demo did not show its panel in 30 s: "
                         f"{err.read_text(encoding='utf-8')}")


def _panel_url(text: str) -> str | None:
    match = re.search(r"panneau web : (http://\S+)", text)
    return match[1] if match else None


def _passwords(text: str) -> dict[str, str]:
    """The accounts table of the demo: name, role, password, between box rules (│, or |
    where the terminal's encoding has no box drawing). A password is
    ``secrets.token_urlsafe``'s: it may begin or end with ``-``."""
    rule = r"\s*[│|]\s*"
    rows = re.findall(rf"^\W*(elu|gestionnaire|admin){rule}"
                      rf"(?:lecteur|opérateur|administrateur){rule}([\w-]+){rule}$", text,
                      re.MULTILINE)
    found = dict(rows)
    assert set(found) == {"elu", "gestionnaire", "admin"}, text
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                              headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(params=list(SCREENS))
def screen(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    """A phone's browser, then a desk's; on closing it, no page it showed broke the
    panel's Content-Security-Policy (web/headers.py)."""
    context = browser.new_context(**SCREENS[request.param])  # type: ignore[arg-type]
    context.set_default_timeout(WAIT_MS)
    violations = csp_violations(context)
    try:
        yield context
        for page in context.pages:
            page.evaluate("0")  # a round trip: what the page logged before it has arrived
    finally:
        context.close()
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


def csp_violations(context: BrowserContext) -> list[str]:
    """The CSP violations of every page of ``context``, as they come: Chromium reports each
    one in the page's console, whichever page and however it came (parsed, swapped in by
    htmx, added by a script)."""
    found: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            found.append(f"{message.location.get('url')}: {message.text}")

    context.on("console", seen)
    return found


def sign_in(context: BrowserContext, demo: Demo, name: str) -> Page:
    page = context.new_page()
    page.goto(demo.url)
    expect(page).to_have_url(re.compile(r"/login"))
    page.locator("#name").fill(name)
    page.locator("#password").fill(demo.passwords[name])
    press(page.get_by_role("button", name="Se connecter"))
    expect(page.get_by_role("button", name=re.compile("Se déconnecter"))).to_be_visible()
    return page


def press(target: Locator) -> None:
    """A tap on a touch screen, a click with the mouse at a desk."""
    if target.page.evaluate("navigator.maxTouchPoints > 0"):
        target.tap()
    else:
        target.click()


def size(page: Page) -> str:
    viewport = page.viewport_size
    assert viewport is not None
    return f"{viewport['width']}x{viewport['height']}"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{size(page)}-{name}.png", full_page=True)


def test_the_overview_fits_the_screen_and_the_viewer_cannot_override(
    demo: Demo, screen: BrowserContext
) -> None:
    page = sign_in(screen, demo, "elu")
    expect(page.locator("h1")).to_have_text("Marchiennes-le-Vert")
    expect(page.locator("#live")).to_contain_text("Accueil et état civil")
    shot(page, "01-viewer-overview")
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"horizontal scroll at {size(page)}: {widths}"

    page.goto(demo.url.rstrip("/") + ZONE)
    expect(page.locator("h1")).to_have_text("Accueil et état civil")
    expect(page.locator("#reason")).not_to_be_empty()
    shot(page, "02-viewer-zone")
    expect(page.locator("#value")).to_have_count(0)
    expect(page.locator("input[name=duration]")).to_have_count(0)
    expect(page.get_by_role("button", name="Déroger")).to_have_count(0)
    expect(page.get_by_role("button", name="Annuler la dérogation")).to_have_count(0)


def test_an_operator_overrides_a_setpoint_and_the_engine_applies_it(
    demo: Demo, screen: BrowserContext
) -> None:
    page = sign_in(screen, demo, "gestionnaire")
    page.goto(demo.url.rstrip("/") + ZONE)
    programme = page.locator("#reason").inner_text()
    assert "gestionnaire" not in programme
    shot(page, "03-operator-zone")

    # Until tomorrow in simulated time: at ×60 an hour goes by in a real minute.
    now_local = datetime.fromisoformat(page.locator("#until").input_value())
    applied = _override(page, "20.5", now_local + timedelta(days=1),
                        "Réunion du CCAS (test navigateur)")
    shot(page, "04-override-pending")

    page.reload()
    expect(applied).to_have_text(re.compile("appliquée par le moteur"), timeout=ENGINE_WAIT_MS)
    reason = page.locator("#reason")
    expect(reason).to_contain_text("gestionnaire")
    expect(reason).to_contain_text("Réunion du CCAS (test navigateur)")
    shot(page, "05-override-applied")
    _the_commune_holds(demo.db, 20.5)

    page.locator("#cancel-why").fill("fin de la réunion")
    press(page.get_by_role("button", name="Annuler la dérogation"))
    expect(page.locator(".flash")).to_contain_text("Dérogation annulée")
    expect(page.get_by_role("button", name="Annuler la dérogation")).to_have_count(0)
    _until_reason_changes(page, lambda text: "gestionnaire" not in text)
    shot(page, "06-override-cancelled")
    with Store(demo.db) as store:
        status = store.status.zones()["mairie.accueil"]
        assert status.source == "controller"


def _override(page: Page, value: str, until: datetime, why: str) -> Locator:
    """Submit the override form and see it wait for the engine. The engine ticks every
    real second: when its tick falls between the form and the page, the page already says
    it is applied; the override is then cancelled and tried again."""
    for _ in range(3):
        page.locator("#value").fill(value)
        page.locator("input[name=duration][value=until]").check()
        page.locator("#until").fill(until.strftime("%Y-%m-%dT%H:%M"))
        page.locator("#why").fill(why)
        press(page.get_by_role("button", name="Déroger"))
        expect(page.locator(".flash")).to_contain_text("Dérogation enregistrée")
        applied = page.locator("#applied")
        if "en attente" in applied.inner_text():
            expect(applied).to_have_class("pending")
            return applied
        press(page.get_by_role("button", name="Annuler la dérogation"))
        expect(page.locator(".flash")).to_contain_text("Dérogation annulée")
    raise AssertionError("the engine applied the override before the page showed it, 3 times")


def _until_reason_changes(page: Page, done: Callable[[str], bool]) -> str:
    """Reload the zone page until its reason satisfies ``done`` (htmx would refresh it
    every 10 s; reloading is quicker)."""
    deadline = time.monotonic() + ENGINE_WAIT_MS / 1000
    while True:
        text = page.locator("#reason").inner_text()
        if done(text):
            return text
        assert time.monotonic() < deadline, f"the reason is still « {text} »"
        time.sleep(0.5)
        page.reload()


def _the_commune_holds(db: Path, value: float) -> None:
    """The engine chose the override, wrote it, and read it back from the virtual
    commune's Modbus server (the sample of the setpoint register)."""
    deadline = time.monotonic() + ENGINE_WAIT_MS / 1000
    with Store(db) as store:
        status = store.status.zones()["mairie.accueil"]
        assert status.source == "override", status
        assert status.actor == "gestionnaire"
        assert status.setpoint == value
        command = store.audit.events(kind="command", point=SETPOINT, limit=1)
        assert command and command[0].data["value"] == value and (
            command[0].actor == "gestionnaire"), command
        while (latest := store.samples.latest(SETPOINT)) is None or latest.value != value:
            assert time.monotonic() < deadline, f"the device holds {latest}, not {value}"
            time.sleep(0.5)


@pytest.mark.skipif(not (ROOT / "web" / "lighting.py").exists(),
                    reason="the lighting page (web/lighting.py) is not written yet")
def test_an_operator_adds_a_lighting_event_to_a_cabinet(
    demo: Demo, screen: BrowserContext
) -> None:
    page = sign_in(screen, demo, "gestionnaire")
    press(page.get_by_role("link", name="Éclairage"))
    expect(page.locator("h1")).to_have_text("Éclairage public")
    shot(page, "07-lighting")

    start = datetime.fromisoformat(page.locator("#entry-start").input_value()) + timedelta(
        days=1)
    label = f"Marché de Noël (test navigateur, {size(page)})"
    page.locator("#entry-cabinet").select_option("ep-centre")
    page.locator("input[name=kind][value=lights_on]").check()
    page.locator("#entry-label").fill(label)
    page.locator("#entry-start").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.locator("#entry-end").fill((start + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"))
    press(page.get_by_role("button", name="Ajouter"))
    expect(page.locator(".flash")).to_contain_text("Entrée ajoutée à l'agenda")
    listed = page.locator("#cabinet-ep-centre li", has_text=label)
    expect(listed).to_contain_text("allumage forcé")
    expect(listed).to_contain_text("ajoutée par gestionnaire")
    expect(page.locator("#cabinet-ep-eglise li", has_text=label)).to_have_count(0)
    shot(page, "08-lighting-event-added")


PAGES = ["/", "/building/mairie", ZONE, "/programmes", "/programmes/mairie/accueil",
         "/lighting", "/alarms", "/audit", "/export", "/savings", "/savings/report", "/admin"]
"""Every page of the menu, as the admin sees them; the screen fixture checks that none
breaks the Content-Security-Policy."""
MAYORS_PAGES = {"/savings": "10-savings", "/savings/report": "11-savings-report"}
"""What an elected official reads, kept as screenshots too."""


def test_every_page_keeps_to_the_content_security_policy(
    demo: Demo, screen: BrowserContext
) -> None:
    page = sign_in(screen, demo, "admin")
    for path in PAGES:
        response = page.goto(demo.url.rstrip("/") + path)
        assert response is not None and response.ok, path
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        expect(page.locator("h1")).to_be_visible()
        if path in MAYORS_PAGES:
            shot(page, MAYORS_PAGES[path])
        if path == ZONE:  # the chart, drawn by uPlot from the series it fetched
            expect(page.locator("#chart .uplot")).to_be_visible()
            # In the page's language: « Heure » heads its legend, not uPlot's « Time ».
            expect(page.locator("#chart .u-legend")).to_contain_text("Heure")
            expect(page.locator("#chart .u-legend")).not_to_contain_text("Time")
        if path == "/programmes":  # a refresh by htmx, as every 10 s
            page.evaluate("htmx.ajax('GET', location.pathname, "
                          "{target: '#live', select: '#live', swap: 'outerHTML'})")
            expect(page.locator("svg.daybar rect").first).to_be_attached()
            shot(page, "09-programmes")
        if path == "/savings/report":  # its button prints, from panel.js
            page.evaluate("window.print = () => { document.body.dataset.printed = 'yes'; }")
            press(page.get_by_role("button", name="Imprimer"))
            expect(page.locator("body")).to_have_attribute("data-printed", "yes")


def test_a_csp_violation_shows_in_the_console(demo: Demo, browser: Browser) -> None:
    """What the screen fixture listens to: Chromium's report of a blocked inline style."""
    context = browser.new_context(**PHONE)  # type: ignore[arg-type]
    try:
        page = context.new_page()
        page.goto(demo.url)
        with page.expect_console_message(
                lambda message: "Content Security Policy" in message.text) as blocked:
            page.evaluate("document.head.insertAdjacentHTML('beforeend', '<style>p {}</style>')")
        assert "style-src 'self'" in blocked.value.text
    finally:
        context.close()
