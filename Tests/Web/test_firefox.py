"""The console and the dashboard in Firefox too (standard APIs only).

Debian ships firefox-esr but no geckodriver, so this drives Firefox through its own remote
protocol, Marionette, with Mozilla's Python client (PyPI `marionette-driver`). Skipped, saying
why, when either is missing: `apt-get install firefox-esr` and `pip install marionette-driver`.
"""
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from harness import SCREENSHOTS, free_port, wait_until

marionette = pytest.importorskip("marionette_driver.marionette", reason="PyPI marionette-driver is not installed")
from marionette_driver import By  # noqa: E402

FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox")
ENTER = "\ue007"
CONSOLE, DASHBOARD = "/console", "/dashboard"

pytestmark = pytest.mark.skipif(FIREFOX is None, reason="Debian's firefox-esr is not installed")


@pytest.fixture
def firefox():
    profile = tempfile.mkdtemp(prefix="arbiter-firefox-")
    port = free_port()
    with open(os.path.join(profile, "user.js"), "w") as f:
        f.write(f'user_pref("marionette.port", {port});\n')
    process = subprocess.Popen([FIREFOX, "--headless", "--marionette", "--no-remote", "--profile", profile],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = marionette.Marionette(host="127.0.0.1", port=port, startup_timeout=60)
    try:
        client.start_session()
        # the page itself 1366×768, as in Chromium
        client.set_window_rect(width=1366, height=768)
        inner = client.execute_script("return [window.innerWidth, window.innerHeight]")
        client.set_window_rect(width=2 * 1366 - inner[0], height=2 * 768 - inner[1])
        yield client
    finally:
        try:
            client.delete_session()
        except Exception:
            pass
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: Firefox takes its time to exit
            process.kill()
            process.wait(timeout=30)
        shutil.rmtree(profile, ignore_errors=True)


def attribute(client, element_id, name):
    return client.find_element(By.ID, element_id).get_attribute(name)


def test_console_pops_a_call_and_records_an_accept_in_firefox(server, firefox):
    firefox.navigate(server.url + CONSOLE)
    firefox.execute_script("sessionStorage.clear()")
    firefox.navigate(server.url + CONSOLE)
    assert firefox.execute_script("return [window.innerWidth, window.innerHeight]") == [1366, 768]
    wait_until(lambda: firefox.execute_script("return document.body.dataset.session"), timeout=5,
               message="the page to ask about its session")
    if firefox.execute_script("return document.body.dataset.session") == "needed":
        firefox.find_element(By.ID, "access-key").send_keys(server.token)
    firefox.find_element(By.ID, "agent-id").send_keys("agent-1" + ENTER)
    wait_until(lambda: attribute(firefox, "conn", "data-state") == "live", timeout=10, message="the event stream")
    cid = None
    for candidate in range(100900, 101300):
        profile = server.get(f"/v1/customers/{candidate}/profile")
        if not any(c.get("channel") == "CHANNEL_CONTACT_CENTRE" and c.get("granted") for c in profile.get("consents", [])):
            continue
        if server.post("/v1/decide", {"customerId": str(candidate), "channel": "CHANNEL_CONTACT_CENTRE"}).get("offers"):
            cid = str(candidate)
            break
    assert cid, "a customer with offers on the phone"
    start = time.time()
    ticket = server.post("/v1/calls", {"customerId": cid, "callReason": "travel"})
    assert ticket.get("agentId") == "agent-1", ticket
    wait_until(lambda: attribute(firefox, "call-customer", "data-customer-id") == cid, timeout=3, interval=0.02,
               message="the screen pop in Firefox")
    popped = time.time() - start
    print(f"\nFirefox screen pop after {popped * 1000:.0f} ms")
    assert popped < 1.0
    wait_until(lambda: attribute(firefox, "offer-current", "data-offer-id"), timeout=5, message="an offer")
    offer_id = attribute(firefox, "offer-current", "data-offer-id")
    decision_id = attribute(firefox, "offer-current", "data-decision-id")
    firefox.find_element(By.CSS_SELECTOR, "#offer-current [data-action=accept]").click()
    wait_until(lambda: any(r.get("decisionId") == decision_id and r.get("offerId") == offer_id
                           and r.get("outcome") == "OUTCOME_ACCEPT"
                           for r in server.get(f"/v1/customers/{cid}/profile?maxInteractions=50")
                           .get("recentInteractions", [])),
               timeout=3, message="the accept in the profile")
    os.makedirs(SCREENSHOTS, exist_ok=True)
    with open(os.path.join(SCREENSHOTS, "console-firefox.png"), "wb") as f:
        f.write(firefox.screenshot(format="binary"))
    firefox.find_element(By.ID, "end-call").click()
    wait_until(lambda: firefox.find_element(By.ID, "idle").is_displayed(), timeout=3)


def test_dashboard_draws_its_charts_in_firefox(server, firefox):
    firefox.navigate(server.url + DASHBOARD)
    wait_until(lambda: firefox.find_element(By.ID, "login").is_displayed()
               or attribute(firefox, "kpi-decisions", "data-value") is not None, timeout=6, message="the page")
    if firefox.find_element(By.ID, "login").is_displayed():
        firefox.find_element(By.ID, "access-key").send_keys(server.token)
        firefox.find_element(By.ID, "login-go").click()
    wait_until(lambda: attribute(firefox, "kpi-decisions", "data-value") is not None, timeout=6,
               message="the first snapshot")
    for chart in ("chart-rate", "chart-latency", "chart-offers", "chart-lift", "chart-suppression"):
        assert firefox.find_elements(By.CSS_SELECTOR, f"#{chart} svg"), chart
    before = float(attribute(firefox, "kpi-decisions", "data-value"))
    for i in range(10):
        server.post("/v1/decide", {"customerId": str(112000 + i), "channel": "CHANNEL_WEB"})
    wait_until(lambda: float(attribute(firefox, "kpi-decisions", "data-value")) >= before + 10, timeout=6,
               message="the counters to move in Firefox")
