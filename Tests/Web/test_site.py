"""The demo bank's site and the web snippet (/arbiter.js) in headless Chromium, against a live server.

Run alone: `cd Tests/Web && ../../.build/venv/bin/python -m pytest -q test_site.py` (ARBITER_BIN names
the server; ARBITER_WEB_ROOT=../../Sources/ArbiterHTTP/Web serves the pages from the work tree).
"""
import http.client
import http.server
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from harness import screenshot, set_page_size, wait_until

PAGES = ("home", "cards", "savings", "mortgages")
TIMEOUT_MS = 300  # the snippet's default


# --- helpers -------------------------------------------------------------------------------------

def state(driver):
    return driver.execute_script("return document.documentElement.getAttribute('data-arbiter-state')")


def open_page(driver, base, page, customer=None):
    """Opens a page of the site at `base`, logged in as `customer` (stored as the site stores it)
    or anonymous, and waits until the snippet has filled the slots."""
    driver.get(f"{base}/site/{page}.html")
    if customer is not None:
        driver.execute_script("localStorage.setItem('northbank_customer', arguments[0])", str(customer))
        driver.refresh()
    wait_until(lambda: state(driver) in ("filled", "timeout", "error"), timeout=10, message="the snippet's decision")
    assert state(driver) == "filled", f"the snippet ended in state {state(driver)!r}"
    return driver.execute_script("return window.arbiter.decision")


def filled_items(driver):
    """What each filled item shows: slot, offer, decision, category, title, message, CTA."""
    return driver.execute_script("""
        return [...document.querySelectorAll('[data-arbiter-offer]')].map(n => {
          const slot = n.closest('[data-arbiter-slot]'), t = n.querySelector('[data-arbiter-title]'),
            m = n.querySelector('[data-arbiter-message]'), c = n.querySelector('[data-arbiter-cta]'),
            r = n.getBoundingClientRect();
          return {slot: slot.getAttribute('data-arbiter-slot'), offer: n.getAttribute('data-arbiter-offer'),
            decision: n.getAttribute('data-arbiter-decision'), category: n.getAttribute('data-arbiter-category'),
            title: t && t.textContent, message: m && m.textContent, cta: c && c.textContent.trim(),
            href: c && c.getAttribute('href'),
            visible: Math.max(0, Math.min(r.bottom, innerHeight) - Math.max(r.top, 0)) / r.height};
        });""")


def log_lines(server, **match):
    return [line for line in server.log_lines() if all(line.get(k) == v for k, v in match.items())]


def wait_log(server, timeout=5.0, **match):
    return wait_until(lambda: log_lines(server, **match), timeout=timeout,
                      message=f"an interaction-log line with {match}")[0]


def pristine_slots(driver):
    """Each slot's HTML as the page was served (the defaults), read again from the server."""
    return driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch(location.href).then(r => r.text()).then(html => {
          const doc = new DOMParser().parseFromString(html, 'text/html'), out = {};
          doc.querySelectorAll('[data-arbiter-slot]').forEach(s => out[s.getAttribute('data-arbiter-slot')] = s.innerHTML);
          done(out);
        });""")


def live_slots(driver):
    return driver.execute_script("""
        const out = {};
        document.querySelectorAll('[data-arbiter-slot]').forEach(s => out[s.getAttribute('data-arbiter-slot')] = s.innerHTML);
        return out;""")


class Proxy:
    """A real HTTP proxy in front of the live server, for the browser to load the site through:
    forwards every request and its answer, holds the answer to each path in `delays` back for that
    many seconds (the server slow), answers the paths in `replies` itself, and records what the
    browser sent."""

    def __init__(self, target, delays=None, replies=None):
        self.target = urllib.parse.urlsplit(target)
        self.delays = delays or {}
        self.replies = replies or {}
        self.requests = []  # (method, path, body), as the browser sent them
        self.aborted = []   # paths whose answer the browser no longer waited for
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?")[0]
                proxy.requests.append((self.command, path, body))
                if path in proxy.replies:
                    status, data = proxy.replies[path]
                    data, headers = json.dumps(data).encode(), [("Content-Type", "application/json")]
                else:
                    upstream = http.client.HTTPConnection(proxy.target.hostname, proxy.target.port, timeout=30)
                    hop = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}
                    upstream.request(self.command, self.path, body or None,
                                     {k: v for k, v in self.headers.items() if k.lower() not in hop})
                    answer = upstream.getresponse()
                    status, data = answer.status, answer.read()
                    headers = [(k, v) for k, v in answer.getheaders() if k.lower() not in hop]
                    upstream.close()
                time.sleep(proxy.delays.get(path, 0))
                try:
                    self.send_response(status)
                    for k, v in headers:
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    proxy.aborted.append(path)
                    self.close_connection = True

            do_GET = do_POST = do_OPTIONS = forward

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def bodies(self, path):
        return [json.loads(body) for method, p, body in self.requests if p == path and method == "POST"]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def proxy(server):
    made = []

    def make(**kwargs):
        made.append(Proxy(server.url, **kwargs))
        return made[-1]

    yield make
    for p in made:
        p.close()


# --- the snippet ---------------------------------------------------------------------------------

def test_snippet_is_under_5_kb_minified(server):
    rjsmin = pytest.importorskip("rjsmin")
    with urllib.request.urlopen(server.url + "/arbiter.js", timeout=10) as response:
        assert "javascript" in response.headers.get("Content-Type", "")
        served = response.read().decode()
    assert "data-arbiter-slot" in served  # the snippet, not some other file
    minified = rjsmin.jsmin(served).encode()
    assert len(minified) < 5 * 1024, f"arbiter.js is {len(minified)} bytes minified"


def test_pages_fetch_nothing_from_elsewhere(server, driver):
    for page in PAGES:
        open_page(driver, server.url, page)
        resources = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name).concat([location.href])")
        foreign = [r for r in resources if not r.startswith(server.url + "/")]
        assert not foreign, f"{page} fetched {foreign}"
        assert "/arbiter.js" in " ".join(resources)
    html = "".join(urllib.request.urlopen(f"{server.url}/site/{p}.html", timeout=10).read().decode() for p in PAGES)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)


def test_the_pages_key_may_only_decide(server):
    """The site's pages are public, so the key they give the snippet may decide and nothing more."""
    keys = set()
    for page in PAGES:
        html = urllib.request.urlopen(f"{server.url}/site/{page}.html", timeout=10).read().decode()
        keys.update(re.findall(r'<script src="/arbiter.js"[^>]* data-arbiter-key="([A-Za-z0-9_-]+)"', html))
    assert len(keys) == 1, f"one site key on every page, got {keys}"
    key = keys.pop()
    assert key != server.token
    site = {"Authorization": "Bearer " + key}
    assert server.request("POST", "/v1/decide", {"customerId": "100042", "channel": "CHANNEL_WEB"},
                          headers=site).get("decisionId")
    for method, path in [("GET", "/v1/customers/100042/profile"), ("GET", "/v1/status"), ("GET", "/v1/dashboard")]:
        try:
            server.request(method, path, headers=site)
            raise AssertionError(f"the site key was let through to {path}")
        except urllib.error.HTTPError as error:
            assert error.code == 403, (path, error.code)
    # Without any key the API refuses; the pages and the snippet stay open.
    anonymous = urllib.request.Request(server.url + "/v1/decide", method="POST", data=b'{"customerId":"100042"}',
                                       headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(anonymous, timeout=10)
        raise AssertionError("a call without a key was let through")
    except urllib.error.HTTPError as error:
        assert error.code == 401


def test_site_fills_its_slots_and_an_impression_reaches_the_log(server, driver):
    decision = open_page(driver, server.url, "home")
    items = filled_items(driver)
    assert items, "no slot was filled on the home page"
    answered = {(i["slot"], i["offer"]["offerId"]): i["offer"] for i in decision["items"]}
    for item in items:
        offer = answered[(item["slot"], item["offer"])]
        assert item["decision"] == decision["decisionId"]
        assert item["title"] == offer["treatment"]["title"]
        assert item["message"] == offer["treatment"].get("message", "")
        assert item["href"] == "#apply-" + offer["offerId"] or offer["category"] == "callback"
    # The Personalize: an anonymous web visitor, known by the first-party visitor id.
    vid = driver.execute_script("return localStorage.getItem('arbiter_vid')")
    assert re.fullmatch(r"v-\d+", vid) and f"arbiter_vid={vid}" in driver.execute_script("return document.cookie")
    line = wait_log(server, type="decision", decision_id=decision["decisionId"])
    assert line["customer_id"] == 0 and line["channel"] == "web" and line.get("visitor_id") == vid
    assert {o["offer_id"] for o in line["offers"]} >= {i["offer"] for i in items}
    # Impressions: for what is in view, not for what is not.
    in_view = [i for i in items if i["visible"] >= 0.5]
    assert in_view, f"nothing filled is in view at 1366x768: {items}"
    for item in in_view:
        wait_log(server, type="outcome", outcome="impression", decision_id=decision["decisionId"], offer_id=item["offer"])
    screenshot(driver, "site-home")


def test_impressions_only_for_slots_in_view(server, driver):
    # A short window (a laptop with the browser's bars, or a phone held sideways), so that the
    # page's lower slots are below the fold.
    set_page_size(driver, 1366, 420)
    decision = open_page(driver, server.url, "cards")
    items = filled_items(driver)
    out_of_view = [i for i in items if i["visible"] < 0.5]
    assert out_of_view, f"every filled slot of the cards page is in view at 1366x420: {items}"
    time.sleep(1.5)  # the snippet sends impressions within 0.5 s; the log is flushed every 0.2 s
    for item in out_of_view:
        assert not log_lines(server, type="outcome", decision_id=decision["decisionId"], offer_id=item["offer"])
    driver.execute_script("document.querySelector('[data-arbiter-slot=\"%s\"]').scrollIntoView({block: 'center'})"
                          % out_of_view[0]["slot"])
    wait_log(server, type="outcome", outcome="impression", decision_id=decision["decisionId"],
             offer_id=out_of_view[0]["offer"])
    # One impression per offer per page view, however often it comes into view.
    driver.execute_script("scrollTo(0, 0)")
    time.sleep(0.3)
    driver.execute_script("document.querySelector('[data-arbiter-slot=\"%s\"]').scrollIntoView({block: 'center'})"
                          % out_of_view[0]["slot"])
    time.sleep(1.2)
    assert len(log_lines(server, type="outcome", outcome="impression", decision_id=decision["decisionId"],
                         offer_id=out_of_view[0]["offer"])) == 1


def test_logged_in_customer_is_decided_as_that_customer(server, driver):
    open_page(driver, server.url, "cards")
    first = driver.execute_script("return window.arbiter.decision.decisionId")
    # Log in with the demo's control: the page decides again, for the customer.
    driver.find_element("css selector", "#customer-id").send_keys("100042")
    driver.find_element("css selector", ".login button[type=submit]").click()
    wait_until(lambda: driver.execute_script(
        "return window.arbiter.decision && window.arbiter.decision.decisionId") not in (None, first),
        timeout=10, message="a new decision after logging in")
    wait_until(lambda: state(driver) == "filled", timeout=5, message="the new decision filled")
    decision = driver.execute_script("return window.arbiter.decision")
    assert wait_log(server, type="decision", decision_id=decision["decisionId"])["customer_id"] == 100042
    assert "100042" in driver.find_element("css selector", ".demo-bar .who").text
    assert not driver.find_element("css selector", ".demo-bar form").is_displayed()
    # The next page view is decided as the customer from the start (the log-in is kept first-party).
    decision = open_page(driver, server.url, "savings")
    assert wait_log(server, type="decision", decision_id=decision["decisionId"])["customer_id"] == 100042
    items = filled_items(driver)
    assert all(i["decision"] == decision["decisionId"] for i in items)
    screenshot(driver, "site-savings-customer")
    # Another customer, straight from storage: decided as that one.
    decision = open_page(driver, server.url, "mortgages", customer=100007)
    assert wait_log(server, type="decision", decision_id=decision["decisionId"])["customer_id"] == 100007
    # Logging out decides again for an anonymous visitor.
    driver.find_element("css selector", ".demo-bar .who button").click()
    wait_until(lambda: driver.execute_script("return window.arbiter.decision.decisionId") != decision["decisionId"]
               and state(driver) == "filled", timeout=10, message="a decision after logging out")
    decision = driver.execute_script("return window.arbiter.decision")
    assert wait_log(server, type="decision", decision_id=decision["decisionId"])["customer_id"] == 0


def test_logging_in_as_an_unknown_customer_says_so(server, driver):
    decision = open_page(driver, server.url, "cards")
    driver.find_element("css selector", "#customer-id").send_keys("999999")
    driver.find_element("css selector", ".login button[type=submit]").click()
    error = driver.find_element("css selector", ".login .error")
    wait_until(lambda: error.text, timeout=5, message="the log-in's error")
    assert error.text == "There is no customer 999999."
    assert driver.execute_script("return localStorage.getItem('northbank_customer')") is None
    assert driver.execute_script("return window.arbiter.decision.decisionId") == decision["decisionId"]


def test_outcomes_still_arrive_when_the_page_is_left(server, driver):
    # An impression is sent half a second after it is seen; leaving the page sooner sends it at
    # once, with keepalive.
    decision = open_page(driver, server.url, "cards")
    seen = wait_until(lambda: driver.execute_script(
        "const n = document.querySelector('[data-arbiter-seen]'); return n && n.getAttribute('data-arbiter-offer')"),
        timeout=2, interval=0.01, message="an impression to be queued")
    driver.get(server.url + "/site/savings.html")
    wait_log(server, type="outcome", outcome="impression", decision_id=decision["decisionId"], offer_id=seen)


def test_snippet_keeps_the_defaults_when_the_server_is_slow(server, driver, proxy):
    # Control: through the proxy with a delay well inside the timeout, the slots are filled...
    quick = proxy(delays={"/v1/personalize": 0.05})
    open_page(driver, quick.url, "cards")
    assert filled_items(driver)
    # ...and with the answer held back 1 s, past the 300 ms timeout, they keep their default content.
    slow = proxy(delays={"/v1/personalize": 1.0})
    start = time.time()
    driver.get(f"{slow.url}/site/cards.html")
    assert driver.execute_script("return getComputedStyle(document.body).visibility") == "visible"
    assert float(driver.execute_script("return getComputedStyle(document.body).opacity")) == 1
    wait_until(lambda: state(driver) != "pending", timeout=5, message="the snippet to give up")
    assert state(driver) == "timeout"
    gave_up = time.time() - start
    assert slow.bodies("/v1/personalize"), "the snippet did not ask"
    time.sleep(1.5)  # the late answer has come and gone
    assert state(driver) == "timeout"
    assert not filled_items(driver)
    assert live_slots(driver) == pristine_slots(driver)
    assert len(slow.bodies("/v1/personalize")) == 1, "asked more than once in one page view"
    assert gave_up < 1.0 + 0.5, f"gave up after {gave_up:.2f} s"
    # Nothing shown, so no impression of the late decision's offers.
    assert not slow.bodies("/v1/outcomes")
    screenshot(driver, "site-cards-timeout")


def test_personalize_request_follows_the_contract(server, driver, proxy):
    through = proxy()
    open_page(driver, through.url, "mortgages")
    [request] = through.bodies("/v1/personalize")
    vid = driver.execute_script("return window.arbiter.visitorId")
    assert request["channel"] == "CHANNEL_WEB" and request["context"] == {"page": "mortgages"}
    assert request["customerId"] in ("0", 0) and request["visitorId"] == vid
    slots = {s["name"]: s for s in request["slots"]}
    assert slots["hero"]["contentType"] == "mortgages" and slots["call-me"]["contentType"] == "callback"
    # The visitor id is first-party and stays the same across page views.
    open_page(driver, through.url, "cards")
    assert through.bodies("/v1/personalize")[-1]["visitorId"] == vid
    assert driver.execute_script("return localStorage.getItem('arbiter_vid')") == vid


def test_a_click_is_recorded(server, driver):
    decision = open_page(driver, server.url, "cards")
    hero = [i for i in filled_items(driver) if i["slot"] == "hero"]
    assert hero, f"the cards page's hero was not filled: {decision}"
    driver.find_element("css selector", "[data-arbiter-slot=hero] [data-arbiter-cta]").click()
    assert driver.find_element("css selector", "dialog#apply").is_displayed()
    assert driver.find_element("css selector", "dialog#apply h2").text == hero[0]["title"]
    wait_log(server, type="outcome", outcome="click", decision_id=decision["decisionId"], offer_id=hero[0]["offer"])


def test_screenshots_of_every_page(server, driver):
    for page in PAGES:
        open_page(driver, server.url, page)
        screenshot(driver, "site-" + page)


# --- "Call me" -----------------------------------------------------------------------------------

def page_with_callback(driver, server, base, page):
    """Opens `page` as a few visitors in turn until one is offered the call-back (made only while
    the contact centre is open: the harness's copy of the demo bundle never closes)."""
    assert server.get("/v1/contact-centre")["open"], "the contact centre is closed: no call-back can be offered"
    for customer in (None, 100042, 100007, 100123, 101000):
        driver.delete_all_cookies()
        driver.get(f"{base}/site/home.html")
        driver.execute_script("localStorage.clear()")
        decision = open_page(driver, base, page, customer=customer)
        offers = {i["slot"]: i for i in filled_items(driver)}
        if offers.get("call-me", {}).get("offer") == "callback-contact-centre":
            return decision, customer
    pytest.fail(f"no visitor was offered callback-contact-centre on {page}: the last decision was {decision}")


def test_call_me_queues_a_call_back_and_shows_the_wait(server, driver):
    from selenium.webdriver.common.action_chains import ActionChains
    through = Proxy(server.url)
    try:
        decision, customer = page_with_callback(driver, server, through.url, "mortgages")
        box = driver.find_element("css selector", "[data-arbiter-slot=call-me]")
        button = box.find_element("css selector", "[data-arbiter-cta]")
        assert button.is_displayed() and button.text == "Call me"
        # The visitor looks at the first-home mortgage, then asks to be called.
        product = driver.find_element("css selector", "[data-arbiter-product='First-home mortgage']")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", product)
        ActionChains(driver).move_to_element(product).perform()
        driver.execute_script("window.ticket = null; arbiter.on('callback', t => window.ticket = t)")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
        button.click()
        ticket = wait_until(lambda: driver.execute_script("return window.ticket"), timeout=5,
                            message="the call-back's ticket")
        [sent] = through.bodies("/v1/callbacks")
        assert sent["decisionId"] == decision["decisionId"] and sent["offerId"] == "callback-contact-centre"
        assert sent["page"] == "mortgages" and sent["viewing"] == "First-home mortgage"
        assert sent["customerId"] == str(customer or 0)
        assert sent["visitorId"] == driver.execute_script("return localStorage.getItem('arbiter_vid')")
        assert ticket["callId"]
        wait = int(ticket.get("expectedWaitSeconds", 0))
        status = box.find_element("css selector", "[data-arbiter-status]").text
        if ticket.get("agentId") or wait < 30:
            assert status == "An adviser will call you in a moment."
        else:
            minutes = max(1, round(wait / 60))
            assert status == f"An adviser will call you in about {minutes} minute{'s' if minutes > 1 else ''}."
            assert int(ticket.get("queuePosition", 0)) >= 1
        assert not button.is_enabled(), "the button can queue the same call twice"
        # The call-back records the offer's acceptance, after the click on it.
        wait_log(server, type="outcome", outcome="click", decision_id=decision["decisionId"],
                 offer_id="callback-contact-centre")
        wait_log(server, type="outcome", outcome="accept", decision_id=decision["decisionId"],
                 offer_id="callback-contact-centre")
        screenshot(driver, "site-call-me")
    finally:
        through.close()


def test_call_me_says_clearly_when_it_fails(server, driver):
    # The server answers as it does outside opening hours (docs/http-api.md), through a proxy.
    closed = Proxy(server.url, replies={"/v1/callbacks": (400, {
        "code": "FAILED_PRECONDITION", "message": "the contact centre is closed", "httpStatus": 400})})
    try:
        page_with_callback(driver, server, closed.url, "savings")
        box = driver.find_element("css selector", "[data-arbiter-slot=call-me]")
        button = box.find_element("css selector", "[data-arbiter-cta]")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
        button.click()
        wait_until(lambda: "Sorry" in box.find_element("css selector", "[data-arbiter-status]").text, timeout=5,
                   message="the error message")
        assert box.find_element("css selector", "[data-arbiter-status]").text == \
            "Sorry, we could not book your call: the contact centre is closed."
        assert button.is_enabled(), "the button stays disabled after a failure"
    finally:
        closed.close()
