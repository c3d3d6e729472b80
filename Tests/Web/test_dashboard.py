"""The decision dashboard (/dashboard) in headless Chromium against a live Arbiter: its counters
move after decisions made through the API, its charts are SVG, and it survives the server going
away."""
from selenium.webdriver.common.by import By

from harness import Server, screenshot, wait_until

CHANNELS = ["CHANNEL_WEB", "CHANNEL_CONTACT_CENTRE", "CHANNEL_MOBILE_APP", "CHANNEL_EMAIL"]


def page_number(driver, element_id):
    value = driver.find_element(By.ID, element_id).get_attribute("data-value")
    return None if value is None else float(value)


def door_decisions(driver, door):
    found = driver.find_elements(By.CSS_SELECTOR, f'#chart-rate g.legend[data-door="{door}"]')
    return float(found[0].get_attribute("data-decisions")) if found else None


def offer_counts(driver):
    return {g.get_attribute("data-offer-id"): (float(g.get_attribute("data-made")), float(g.get_attribute("data-accepted")))
            for g in driver.find_elements(By.CSS_SELECTOR, "#chart-offers g.offer-row")}


def make_traffic(server, count, start, accept_every=3):
    """`count` decisions through POST /v1/decide over a few channels, with explain (so that
    suppression is counted too); every `accept_every`-th first offer is accepted."""
    made = 0
    for i in range(count):
        cid = str(start + i)
        decision = server.post("/v1/decide", {"customerId": cid, "channel": CHANNELS[i % len(CHANNELS)],
                                              "context": {"page": "cards"} if i % 2 else {"callReason": "travel"},
                                              "explain": True})
        offers = decision.get("offers", [])
        made += len(offers)
        if offers and i % accept_every == 0:
            server.post("/v1/outcomes", {"outcomes": [{"decisionId": decision["decisionId"],
                                                        "offerId": offers[0]["offerId"],
                                                        "outcome": "OUTCOME_ACCEPT"}]})
    return made


def test_counters_move_after_decisions(server, driver):
    driver.get(server.url + "/dashboard")
    wait_until(lambda: page_number(driver, "kpi-decisions") is not None, timeout=6, message="the first snapshot")
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
    groups = driver.find_elements(By.CSS_SELECTOR, "#chart-lift svg g.lift-row")
    assert groups, "a row per offer group in the lift chart"
    for group in groups:
        if group.get_attribute("data-enough") == "false":
            assert "not enough data" in group.text
        else:
            assert group.find_elements(By.CSS_SELECTOR, "circle.dot")
    snapshot = server.get("/v1/dashboard")
    pacing = snapshot.get("pacing", [])
    assert len(driver.find_elements(By.CSS_SELECTOR, "#chart-pacing svg g.pacing line.pace")) == len(pacing)
    bundle = snapshot.get("bundle", {}).get("bundleName", "")
    assert bundle and bundle in driver.find_element(By.ID, "bundle-name").text

    make_traffic(server, 60, start=111000)
    wait_until(lambda: door_decisions(driver, "http") >= before_http + 90, timeout=6)
    screenshot(driver, "dashboard")


def test_dashboard_shows_the_unreachable_banner_and_recovers(driver):
    own = Server.launch(customers=2000)
    port = own.port
    try:
        driver.get(own.url + "/dashboard")
        wait_until(lambda: page_number(driver, "kpi-decisions") is not None, timeout=6)
        assert not driver.find_element(By.ID, "banner").is_displayed()
        own.stop()
        wait_until(lambda: driver.find_element(By.ID, "banner").is_displayed(), timeout=6,
                   message="the unreachable banner")
        assert driver.find_element(By.ID, "live").get_attribute("data-state") == "offline"
        own = Server.launch(http_port=port, customers=2000)
        wait_until(lambda: not driver.find_element(By.ID, "banner").is_displayed(), timeout=8,
                   message="the banner to go once the server is back")
        before = door_decisions(driver, "http") or 0
        make_traffic(own, 5, start=100300)
        wait_until(lambda: door_decisions(driver, "http") >= before + 5, timeout=6, message="live figures again")
    finally:
        own.stop()
