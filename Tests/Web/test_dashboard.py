"""The decision dashboard (/dashboard) in headless Chromium against a live Arbiter: its counters
move after decisions made through the API, its charts are SVG, and it survives the server going
away."""
import os
import time

from selenium.webdriver.common.by import By

from harness import Server, screenshot, wait_until

DASHBOARD = "/dashboard"
CHANNELS = ["CHANNEL_WEB", "CHANNEL_CONTACT_CENTRE", "CHANNEL_MOBILE_APP", "CHANNEL_EMAIL"]


def open_dashboard(driver, server, token=None):
    """Opens the dashboard and, when it asks for a key, signs in with the admin token; returns
    once the first snapshot is drawn."""
    driver.get(server.url + DASHBOARD)
    sign_in_if_asked(driver, token or server.token)
    wait_until(lambda: page_number(driver, "kpi-decisions") is not None, timeout=6, message="the first snapshot")


def sign_in_if_asked(driver, token):
    def settled():
        if driver.find_element(By.ID, "login").is_displayed():
            return "login"
        return page_number(driver, "kpi-decisions") is not None and "drawn"
    if wait_until(settled, timeout=6, message="the login or the first snapshot") == "login":
        driver.find_element(By.ID, "access-key").send_keys(token)
        driver.find_element(By.ID, "login-go").click()


# The page redraws its charts on every poll: read what it shows in one script, not element by
# element (an element found before a redraw is gone after it).
def page_number(driver, element_id):
    value = driver.execute_script("const e = document.getElementById(arguments[0]); return e && e.dataset.value", element_id)
    return None if value is None else float(value)


def door_decisions(driver, door):
    value = driver.execute_script(
        "const g = document.querySelector(`#chart-rate g.legend[data-door=\"${arguments[0]}\"]`);"
        "return g && g.dataset.decisions", door)
    return None if value is None else float(value)


def offer_counts(driver):
    rows = driver.execute_script(
        "return [...document.querySelectorAll('#chart-offers g.offer-row')]"
        ".map(g => [g.dataset.offerId, g.dataset.made, g.dataset.accepted])")
    return {offer: (float(made), float(accepted)) for offer, made, accepted in rows}


def lift_rows(driver):
    return driver.execute_script(
        "return [...document.querySelectorAll('#chart-lift g.lift-row')]"
        ".map(g => [g.dataset.group, g.dataset.enough, g.textContent, g.querySelectorAll('circle.dot').length])")


def make_traffic(server, count, start, accept_every=3, convert_every=6):
    """`count` decisions through POST /v1/decide over a few channels, with explain (so that
    suppression is counted too): every `accept_every`-th decision's first offer is accepted, and
    every `convert_every`-th held-out (control group) offer converts anyway, as some customers
    buy without being asked."""
    made = 0
    held_out = 0
    for i in range(count):
        cid = str(start + i)
        decision = server.post("/v1/decide", {"customerId": cid, "channel": CHANNELS[i % len(CHANNELS)],
                                              "context": {"page": "cards"} if i % 2 else {"callReason": "travel"},
                                              "explain": True})
        offers = decision.get("offers", [])
        made += len(offers)
        outcomes = []
        if offers and i % accept_every == 0:
            outcomes.append({"decisionId": decision["decisionId"], "offerId": offers[0]["offerId"],
                             "outcome": "OUTCOME_ACCEPT"})
        for control in decision.get("controls", []):
            held_out += 1
            if held_out % convert_every == 0:
                outcomes.append({"decisionId": decision["decisionId"], "offerId": control["offerId"],
                                 "outcome": "OUTCOME_CONVERT"})
        if outcomes:
            server.post("/v1/outcomes", {"outcomes": outcomes})
    return made


def test_counters_move_after_decisions(server, driver):
    open_dashboard(driver, server)
    before_total = page_number(driver, "kpi-decisions")
    before_http = door_decisions(driver, "http")
    before_made = page_number(driver, "kpi-made")
    before_offers = offer_counts(driver)
    assert before_http is not None, "the HTTP door is drawn in the decisions-per-second chart"

    made = make_traffic(server, 30, start=110000)
    assert made > 0
    # the next poll (every 2 s) shows them
    wait_until(lambda: door_decisions(driver, "http") >= before_http + 30, timeout=6,
               message="the HTTP door's decisions to move by 30")
    assert page_number(driver, "kpi-decisions") >= before_total + 30
    wait_until(lambda: page_number(driver, "kpi-made") >= before_made + made, timeout=6,
               message="offers made to move")
    after_offers = offer_counts(driver)
    assert sum(m for m, _ in after_offers.values()) - sum(m for m, _ in before_offers.values()) >= made
    wait_until(lambda: sum(a for _, a in offer_counts(driver).values()) > sum(a for _, a in before_offers.values()),
               timeout=6, message="accepted offers to move")

    # every chart is drawn as SVG
    assert driver.find_elements(By.CSS_SELECTOR, '#chart-rate svg path.series[data-door="http"]')
    assert len(driver.find_elements(By.CSS_SELECTOR, "#chart-latency svg rect")) >= 3
    assert len(after_offers) == len(server.get("/v1/dashboard").get("offers", []))
    assert driver.find_elements(By.CSS_SELECTOR, "#chart-suppression svg g.supp-row")
    rows = lift_rows(driver)
    assert rows, "a row per offer group in the lift chart"
    for group, enough, words, dots in rows:
        assert ("not enough data" in words) if enough == "false" else dots == 1, (group, enough, words)
    snapshot = server.get("/v1/dashboard")
    pacing = snapshot.get("pacing", [])
    assert len(driver.find_elements(By.CSS_SELECTOR, "#chart-pacing svg g.pacing line.pace")) == len(pacing)
    bundle = snapshot.get("bundle", {}).get("bundleName", "")
    assert bundle and bundle in driver.find_element(By.ID, "bundle-name").text

    # more traffic, so that the screenshot's charts have something to show
    begun = time.time()
    make_traffic(server, 1500, start=111000, accept_every=2, convert_every=8)
    print(f"\n1,500 decisions with outcomes in {time.time() - begun:.1f} s")
    wait_until(lambda: door_decisions(driver, "http") >= before_http + 1530, timeout=6)
    # with this much, some group's interval is drawn
    wait_until(lambda: any(enough == "true" for _, enough, _, _ in lift_rows(driver)), timeout=6,
               message="a lift interval")
    screenshot(driver, "dashboard")


def test_dashboard_shows_the_unreachable_banner_and_recovers(driver):
    own = Server.launch(customers=2000)
    port = own.port
    try:
        open_dashboard(driver, own)
        assert not driver.find_element(By.ID, "banner").is_displayed()
        own.stop()
        wait_until(lambda: driver.find_element(By.ID, "banner").is_displayed(), timeout=6,
                   message="the unreachable banner")
        assert driver.find_element(By.ID, "live").get_attribute("data-state") == "offline"
        own = Server.launch(http_port=port, customers=2000)
        wait_until(lambda: not driver.find_element(By.ID, "banner").is_displayed(), timeout=8,
                   message="the banner to go once the server is back")
        # A restarted server knows no login sessions: the page asks for the key again.
        wait_until(lambda: driver.find_element(By.ID, "login").is_displayed(), timeout=8,
                   message="the login after the restart")
        sign_in_if_asked(driver, own.token)
        before = door_decisions(driver, "http") or 0
        make_traffic(own, 5, start=100300)
        wait_until(lambda: door_decisions(driver, "http") >= before + 5, timeout=6, message="live figures again")
    finally:
        own.stop()


def test_the_dashboard_needs_an_admin_key(server, driver):
    driver.get(server.url + DASHBOARD)
    wait_until(lambda: driver.find_element(By.ID, "login").is_displayed(), timeout=6, message="the login")
    assert not driver.find_element(By.ID, "main").is_displayed()
    assert server.workdir, "a server launched by the harness, whose site key is in its folder"
    with open(os.path.join(server.workdir, "site-key")) as f:
        site_key = f.read().strip()
    # The site key may only decide: signed in, but the dashboard is refused, saying why.
    driver.find_element(By.ID, "access-key").send_keys(site_key)
    driver.find_element(By.ID, "login-go").click()
    error = driver.find_element(By.ID, "login-error")
    wait_until(lambda: error.text, timeout=6, message="the refusal")
    assert "needs the role admin" in error.text, error.text
    screenshot(driver, "dashboard-login-refused")
    driver.find_element(By.ID, "access-key").clear()
    sign_in_if_asked(driver, server.token)
    wait_until(lambda: page_number(driver, "kpi-decisions") is not None, timeout=6, message="the first snapshot")
