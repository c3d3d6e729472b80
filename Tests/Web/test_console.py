"""The agent console (/console) in headless Chromium against a live Arbiter.

Calls are posted through the API as the telephony system and the website would; what the agent
does is done in the page; what it records is checked through the API (GET profile), not only
in the page.
"""
import time
import urllib.error

import pytest
from selenium.common.exceptions import ElementClickInterceptedException, ElementNotInteractableException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from harness import Server, screenshot, wait_until

AGENT = "agent-1"
CONSOLE = "/console"

# Customers are taken in order, each by one test only, so that one test's outcomes (and the
# contact policy they trigger) never change another's offers.
_next_customer = [100200]


def phone_customer(server, min_offers=1):
    """A customer who may be phoned about offers and gets at least `min_offers` on the phone."""
    for _ in range(400):
        cid = str(_next_customer[0])
        _next_customer[0] += 1
        profile = server.get(f"/v1/customers/{cid}/profile")
        consents = {c["channel"]: c.get("granted", False) for c in profile.get("consents", [])
                    if c.get("purpose", "CONSENT_PURPOSE_MARKETING") == "CONSENT_PURPOSE_MARKETING"}
        if not consents.get("CHANNEL_CONTACT_CENTRE"):
            continue
        probe = server.post("/v1/decide", {"customerId": cid, "channel": "CHANNEL_CONTACT_CENTRE", "maxOffers": 3})
        if len(probe.get("offers", [])) >= min_offers:
            return cid, profile
    raise AssertionError(f"no customer with {min_offers} phone offers found")


def text(driver, element_id):
    return driver.find_element(By.ID, element_id).text


def visible(driver, element_id):
    return driver.find_element(By.ID, element_id).is_displayed()


def conn_state(driver):
    return driver.find_element(By.ID, "conn").get_attribute("data-state")


def sign_in(driver, server, agent=AGENT):
    """Opens the console fresh and signs in; returns once the event stream is open."""
    driver.get(server.url + CONSOLE)
    driver.execute_script("sessionStorage.clear()")
    driver.get(server.url + CONSOLE)
    log_in(driver, server, agent)


def log_in(driver, server, agent=AGENT):
    """Fills the login form: the agent id and, when the server asks for it, the access key (the
    admin token); returns once the event stream is open."""
    wait_until(lambda: visible(driver, "login"), timeout=5, message="the login form")
    # The page asks the server whether a key is needed as it loads (not when this browser still
    # has a login session).
    session = wait_until(lambda: driver.execute_script("return document.body.dataset.session"), timeout=5,
                         message="the page to ask about its session")
    if session == "needed" or visible(driver, "key-field"):
        driver.find_element(By.ID, "access-key").send_keys(server.token)
    field = driver.find_element(By.ID, "agent-id")
    field.clear()
    field.send_keys(agent, Keys.ENTER)
    wait_until(lambda: conn_state(driver) == "live", timeout=10, message="the event stream to open")
    # Signing in marks the agent free (the console posts AGENT_FREE once the stream is open).
    wait_until(lambda: visible(driver, "idle"), timeout=5, message="the waiting screen")


def current_offer(driver):
    box = driver.find_element(By.ID, "offer-current")
    return box.get_attribute("data-offer-id"), box.get_attribute("data-decision-id")


def wait_for_offer(driver, timeout=5.0, other_than=None):
    def ready():
        offer, decision = current_offer(driver)
        return (offer, decision) if offer and offer != other_than else None

    return wait_until(ready, timeout=timeout, message="an offer on the console")


def post_call(server, cid, reason=""):
    ticket = server.post("/v1/calls", {"customerId": cid, "callReason": reason, "phoneNumber": "+441632960001"})
    assert ticket.get("callId"), ticket
    return ticket


def interactions(server, cid):
    return server.get(f"/v1/customers/{cid}/profile?maxInteractions=50").get("recentInteractions", [])


def recorded(server, cid, decision_id, offer_id, outcome):
    return [r for r in interactions(server, cid)
            if r.get("decisionId") == decision_id and r.get("offerId") == offer_id and r.get("outcome") == outcome]


def test_inbound_call_pops_the_caller_within_a_second(server, driver):
    sign_in(driver, server)
    cid, profile = phone_customer(server)
    name = profile.get("displayName", "")
    start = time.time()
    ticket = post_call(server, cid, reason="travel")
    assert ticket.get("agentId") == AGENT, f"a free, connected agent should take the call at once: {ticket}"
    wait_until(lambda: driver.find_element(By.ID, "call-customer").get_attribute("data-customer-id") == cid,
               timeout=3, interval=0.01, message="the screen pop")
    popped = time.time() - start
    wait_until(lambda: name and name in text(driver, "call-customer"), timeout=3, interval=0.01,
               message="the caller's name")
    named = time.time() - start
    wait_for_offer(driver, timeout=3)
    offered = time.time() - start
    print(f"\nscreen pop: customer id after {popped * 1000:.0f} ms, name after {named * 1000:.0f} ms, "
          f"offers after {offered * 1000:.0f} ms")
    assert popped < 1.0, f"the caller popped after {popped:.3f} s"
    assert named < 1.0, f"the caller's name showed after {named:.3f} s"

    assert text(driver, "call-kind").lower() == "inbound call"
    assert "travel" in text(driver, "call-where")
    reason = driver.find_element(By.ID, "call-reason")
    assert reason.get_attribute("value") == "travel"
    # who the customer is: the profile's attributes, products and consents, labelled
    profile_text = text(driver, "profile")
    for attribute in profile.get("attributes", [])[:1]:
        assert attribute["label"].lower() in profile_text.lower()
    for product in profile.get("products", []):
        assert product["name"] in profile_text
    assert "phone" in profile_text.lower()
    # the offer: script filled for the customer, reasons as phrases, expected value and score
    offer_text = text(driver, "offer-current")
    assert "expected value" in offer_text.lower() and "score" in offer_text.lower()
    assert "{first_name}" not in offer_text and "{feature:" not in offer_text
    assert driver.find_elements(By.CSS_SELECTOR, "#offer-current .script")[0].text.strip()

    driver.find_element(By.ID, "end-call").click()
    wait_until(lambda: visible(driver, "idle"), timeout=3, message="the waiting screen after End call")
    # free again: the next call pops on the same console
    cid2, _ = phone_customer(server)
    ticket = post_call(server, cid2)
    assert ticket.get("agentId") == AGENT, ticket
    wait_until(lambda: driver.find_element(By.ID, "call-customer").get_attribute("data-customer-id") == cid2,
               timeout=2, message="the second call's pop")
    driver.find_element(By.ID, "end-call").click()


def callback_offered(server):
    """A phone customer whom the website offers "Call me" on the mortgages page, with the
    decision that offered it (as the snippet would have it)."""
    if not server.get("/v1/contact-centre").get("open"):
        pytest.skip("the contact centre is closed at this hour: the website offers no call-back")
    for _ in range(80):
        cid, profile = phone_customer(server)
        page = server.post("/v1/personalize", {
            "customerId": cid, "channel": "CHANNEL_WEB", "context": {"page": "mortgages"},
            "slots": [{"name": "callme", "contentType": "callback"}]})
        if any(i.get("offer", {}).get("offerId") == "callback-contact-centre" for i in page.get("items", [])):
            return cid, profile, page["decisionId"]
    raise AssertionError("no customer was offered the call-back")


def test_callback_from_the_website_pops_with_where_it_came_from(server, driver):
    sign_in(driver, server)
    cid, profile, decision_id = callback_offered(server)
    body = {"decisionId": decision_id, "offerId": "callback-contact-centre", "customerId": cid,
            "visitorId": "v-test", "page": "mortgages", "viewing": "Fixed-rate mortgage"}
    start = time.time()
    ticket = server.post("/v1/callbacks", body)
    assert ticket.get("agentId") == AGENT, ticket
    wait_until(lambda: driver.find_element(By.ID, "call-customer").get_attribute("data-customer-id") == cid,
               timeout=3, interval=0.01, message="the call-back's pop")
    popped = time.time() - start
    print(f"\ncall-back pop after {popped * 1000:.0f} ms")
    assert popped < 1.0
    assert text(driver, "call-kind").lower() == "call-back"
    where = text(driver, "call-where")
    assert "mortgages" in where and "Fixed-rate mortgage" in where, where
    wait_for_offer(driver, timeout=3)
    wait_until(lambda: profile.get("displayName", "") in text(driver, "call-customer"), timeout=3)
    # the call-back recorded the offer's accept, and the console's profile shows it
    assert recorded(server, cid, decision_id, "callback-contact-centre", "OUTCOME_ACCEPT")
    screenshot(driver, "console")
    driver.find_element(By.ID, "end-call").click()


def test_accept_records_the_outcome_that_the_profile_then_shows(server, driver):
    sign_in(driver, server)
    cid, _ = phone_customer(server)
    post_call(server, cid)
    offer_id, decision_id = wait_for_offer(driver)
    driver.find_element(By.CSS_SELECTOR, "#offer-current [data-action=accept]").click()
    # through the API: GetProfile shows the accept against that decision and offer
    wait_until(lambda: recorded(server, cid, decision_id, offer_id, "OUTCOME_ACCEPT"), timeout=3,
               message="the accept in GET /v1/customers/{id}/profile")
    # and in the page at once, from the profile refetched after the answer
    selector = (f'#history li[data-decision-id="{decision_id}"][data-offer-id="{offer_id}"]'
                f'[data-outcome="OUTCOME_ACCEPT"]')
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, selector), timeout=3,
               message="the accept in the console's recent interactions")
    # the list moved on: another offer, or none left
    wait_until(lambda: current_offer(driver)[0] != offer_id, timeout=3, message="the next offer")
    assert offer_id in [li.get_attribute("data-offer-id")
                        for li in driver.find_elements(By.CSS_SELECTOR, "#offer-done li")]
    driver.find_element(By.ID, "end-call").click()


def test_decline_with_a_reason_moves_to_the_next_offer(server, driver):
    sign_in(driver, server)
    cid, _ = phone_customer(server, min_offers=2)
    post_call(server, cid)
    first, decision_id = wait_for_offer(driver)
    queued = [li.get_attribute("data-offer-id") for li in driver.find_elements(By.CSS_SELECTOR, "#offer-queue li")]
    assert queued, "a second offer waits in the list"
    driver.find_element(By.CSS_SELECTOR, "#offer-current [data-action=decline]").click()
    reasons = driver.find_elements(By.CSS_SELECTOR, "#offer-current .decline-reasons button[data-reason]")
    assert [r.get_attribute("data-reason") for r in reasons] == [
        "too-expensive", "already-has-one", "not-interested-now", "does-not-trust-it", "other"]
    driver.find_element(By.CSS_SELECTOR, '#offer-current button[data-reason="too-expensive"]').click()
    second, same_decision = wait_for_offer(driver, other_than=first)
    assert second == queued[0] and same_decision == decision_id
    records = wait_until(lambda: recorded(server, cid, decision_id, first, "OUTCOME_DECLINE"), timeout=3,
                         message="the decline in the profile")
    assert records[0].get("declineReason") == "too-expensive", records
    assert "declined: too expensive" in text(driver, "offer-done").lower()
    # a new call reason decides again (a new decision)
    from selenium.webdriver.support.ui import Select
    Select(driver.find_element(By.ID, "call-reason")).select_by_value("mortgage-enquiry")
    wait_until(lambda: current_offer(driver)[1] not in (None, decision_id) or "Nothing to offer" in text(driver, "offer-current"),
               timeout=3, message="a new decision for the new call reason")
    driver.find_element(By.ID, "end-call").click()


def test_keyboard_alone_takes_a_call_through(server, driver):
    driver.get(server.url + CONSOLE)
    driver.execute_script("sessionStorage.clear()")
    driver.get(server.url + CONSOLE)
    keys = ActionChains(driver)
    # the agent id field has the focus on arrival, the access key field follows it
    wait_until(lambda: visible(driver, "key-field"), timeout=5, message="the access key field")
    assert driver.switch_to.active_element.get_attribute("id") == "agent-id"
    keys.send_keys(AGENT, Keys.TAB, server.token, Keys.ENTER).perform()
    wait_until(lambda: conn_state(driver) == "live", timeout=10, message="the event stream")
    wait_until(lambda: visible(driver, "idle"), timeout=5)
    cid, _ = phone_customer(server, min_offers=2)
    post_call(server, cid)
    first, decision_id = wait_for_offer(driver)
    # the pop puts the focus on Accept, visibly
    focused = driver.switch_to.active_element
    assert focused.get_attribute("data-action") == "accept"
    assert driver.execute_script(
        "const s = getComputedStyle(document.activeElement); return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2")
    for key in ("A", "D", "N"):
        assert key in driver.find_element(By.CSS_SELECTOR, f'#offer-current [aria-keyshortcuts="{key}"]').text
    # Tab reaches the other answers in order
    ActionChains(driver).send_keys(Keys.TAB).perform()
    assert driver.switch_to.active_element.get_attribute("data-action") == "decline"
    ActionChains(driver).send_keys(Keys.TAB).perform()
    assert driver.switch_to.active_element.get_attribute("data-action") == "not-now"
    # N: not now, recorded as an impression only; the list moves on
    ActionChains(driver).send_keys("n").perform()
    second, _ = wait_for_offer(driver, other_than=first)
    wait_until(lambda: recorded(server, cid, decision_id, first, "OUTCOME_IMPRESSION"), timeout=3)
    assert not recorded(server, cid, decision_id, first, "OUTCOME_DECLINE")
    assert driver.switch_to.active_element.get_attribute("data-action") == "accept"
    # D then 2: declined, "already has one elsewhere"
    ActionChains(driver).send_keys("d").perform()
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "#offer-current .decline-reasons"), timeout=2)
    assert driver.switch_to.active_element.get_attribute("data-reason") == "too-expensive"
    ActionChains(driver).send_keys("2").perform()
    records = wait_until(lambda: recorded(server, cid, decision_id, second, "OUTCOME_DECLINE"), timeout=3)
    assert records[0].get("declineReason") == "already-has-one"
    wait_until(lambda: current_offer(driver)[0] != second, timeout=3)
    # E: end the call; then / looks a customer up, typed and entered
    ActionChains(driver).send_keys("e").perform()
    wait_until(lambda: visible(driver, "idle"), timeout=3, message="the waiting screen")
    ActionChains(driver).send_keys("/").perform()
    assert driver.switch_to.active_element.get_attribute("id") == "lookup-id"
    other, _ = phone_customer(server)
    ActionChains(driver).send_keys(other, Keys.ENTER).perform()
    wait_until(lambda: driver.find_element(By.ID, "call-customer").get_attribute("data-customer-id") == other,
               timeout=3, message="the looked-up customer")
    wait_for_offer(driver)
    assert text(driver, "call-kind").lower() == "look-up"
    ActionChains(driver).send_keys("e").perform()
    wait_until(lambda: visible(driver, "idle"), timeout=3)


def test_unreachable_server_shows_a_banner_and_the_console_recovers(driver):
    """On a server of this test's own, stopped and started again on the same port."""
    own = Server.launch(customers=2000)
    port = own.port
    try:
        sign_in(driver, own, agent="agent-7")
        assert not visible(driver, "banner")
        own.stop()
        wait_until(lambda: visible(driver, "banner"), timeout=8, message="the unreachable banner")
        assert "Cannot reach the Arbiter server" in text(driver, "banner")
        assert conn_state(driver) == "offline"
        own = Server.launch(http_port=port, customers=2000)
        # the page probes with a backoff of at most 10 s (it may be back already); Retry now asks at once
        try:
            driver.find_element(By.ID, "retry").click()
        except (ElementNotInteractableException, ElementClickInterceptedException):
            # the banner went (the page's own probe found the server) between finding the button
            # and clicking it; anything else (a banner still up but covered) is a real failure
            if visible(driver, "banner"):
                raise
        wait_until(lambda: not visible(driver, "banner"), timeout=15, message="the banner to go")
        # A restarted server knows no login sessions: the console asks for the key again, saying why.
        wait_until(lambda: visible(driver, "login"), timeout=15, message="the login after the restart")
        assert "Your session has ended" in text(driver, "login-error")
        log_in(driver, own, agent="agent-7")
        # recovered for real: a call to the new server pops
        cid, _ = phone_customer(own)
        ticket = post_call(own, cid)
        assert ticket.get("agentId") == "agent-7", ticket
        wait_until(lambda: driver.find_element(By.ID, "call-customer").get_attribute("data-customer-id") == cid,
                   timeout=3, message="a call after recovery")
    finally:
        own.stop()


def test_a_wrong_access_key_is_refused_with_the_servers_reason(server, driver):
    driver.get(server.url + CONSOLE)
    driver.execute_script("sessionStorage.clear()")
    driver.get(server.url + CONSOLE)
    wait_until(lambda: visible(driver, "key-field"), timeout=5, message="the access key field")
    driver.find_element(By.ID, "agent-id").send_keys("agent-9")
    driver.find_element(By.ID, "access-key").send_keys("not-a-key-of-this-server", Keys.ENTER)
    wait_until(lambda: text(driver, "login-error"), timeout=5, message="the refusal")
    assert text(driver, "login-error") == "Not signed in: the API key is not one this server knows"
    assert visible(driver, "login") and not visible(driver, "idle")
    screenshot(driver, "console-login-refused")
