"""Shared pieces of Arbiter's browser tests: a live server and a headless Chromium.

The server is the one at ARBITER_HTTP_URL when that is set (the Swift test suite starts one and
sets it); otherwise this starts `arbiter serve` from ARBITER_BIN (default .build/debug/arbiter)
on the demo bank with a fresh store and free ports, for running these tests alone:
`.build/venv/bin/python -m pytest Tests/Web`.
"""
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import grpc

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCREENSHOTS = os.path.join(REPO, ".build", "screenshots")


def always_open_bundle(workdir):
    """A copy of the demo bundle whose contact centre never closes and never runs out of capacity,
    so that tests of "Call me" depend neither on the hour they run at nor on how many call-backs
    the tests before them showed (6,000 units an hour, 10 a call-back: a suite's page views came
    within reach of it). The catalogue's own hours and capacity are tested in Swift."""
    source = os.path.join(REPO, "models", "demo", "1")
    root = os.path.join(workdir, "bundle")
    target = os.path.join(root, "1")
    shutil.copytree(source, target)
    path = os.path.join(target, "catalogue.json")
    with open(path) as f:
        catalogue = json.load(f)
    catalogue["openingHours"] = [{"channel": "contact-centre", "timeZone": "UTC",
                                  "periods": [{"days": "daily", "open": "00:00", "close": "24:00"}]}]
    for budget in catalogue["capacity"]:
        if budget["channel"] == "contact-centre":
            budget["unitsPerHour"] = 100_000_000
    data = json.dumps(catalogue, indent=2, sort_keys=True).encode()
    with open(path, "wb") as f:
        f.write(data)
    manifest_path = os.path.join(target, "manifest.json")
    with open(manifest_path) as f:
        manifest = json.load(f)
    manifest["files"]["catalogue.json"] = hashlib.sha256(data).hexdigest()
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
    return root


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running Arbiter: its HTTP base URL, the interaction log's path, and the admin token the
    tests call with (the server requires credentials, as it does by default)."""

    def __init__(self, url, interaction_log, process=None, workdir=None, token=None):
        self.url = url.rstrip("/")
        self.interaction_log = interaction_log
        self.process = process
        self.workdir = workdir
        self.token = token

    @staticmethod
    def start(extra_args=(), fresh=False):
        """The server at ARBITER_HTTP_URL, or (`fresh`, or without it) a new one."""
        url = os.environ.get("ARBITER_HTTP_URL")
        if url and not fresh:
            return Server(url, os.environ.get("ARBITER_INTERACTION_LOG", ""), token=os.environ.get("ARBITER_TOKEN"))
        return Server.launch(extra_args=extra_args)

    @staticmethod
    def launch(http_port=None, customers=20000, extra_args=(), grpc_port=0):
        """Starts an `arbiter serve` of this test's own (whatever ARBITER_HTTP_URL says), on
        `http_port` or a free one (its gRPC door on `grpc_port`, 0 for any), on the bundle at ARBITER_BUNDLE (default models/demo); with
        ARBITER_WEB_ROOT set, its pages come from that folder. Its admin token and site key are made
        in the test's own folder on first start, as the server does in arbiter-data/ by default."""
        binary = os.environ.get("ARBITER_BIN", os.path.join(REPO, ".build", "debug", "arbiter"))
        workdir = tempfile.mkdtemp(prefix="arbiter-web-")
        http_port = http_port or free_port()
        log = os.path.join(workdir, "interactions.jsonl")
        web_root = os.environ.get("ARBITER_WEB_ROOT")
        bundle = os.environ.get("ARBITER_BUNDLE") or always_open_bundle(workdir)
        # The audit log goes to the test's folder too (not to an arbiter-data/ beside the tests).
        config = os.path.join(workdir, "arbiter.yaml")
        with open(config, "w") as f:
            f.write(f"access: {{audit-log: {json.dumps(os.path.join(workdir, 'audit.jsonl'))}}}\n")
        args = [binary, "serve", "--config", config, "--bundle", bundle, "--store", "none",
                "--customers", str(customers), "--interaction-log", log, "--port", str(grpc_port), "--lean-port", "off",
                "--http-port", str(http_port), "--log-level", "warning", "--bundle-watch", "0",
                "--admin-token-file", os.path.join(workdir, "admin-token"),
                "--site-key-file", os.path.join(workdir, "site-key"),
                *(["--web-root", web_root] if web_root else []), *extra_args]
        process = subprocess.Popen(args, stdout=open(os.path.join(workdir, "server.log"), "wb"),
                                   stderr=subprocess.STDOUT)
        server = Server(f"http://127.0.0.1:{http_port}", log, process, workdir)
        deadline = time.time() + 120
        while time.time() < deadline:
            if process.poll() is not None:
                raise RuntimeError("arbiter exited: " + open(os.path.join(workdir, "server.log")).read())
            try:
                if server.get("/health")["status"] == "SERVING":
                    with open(os.path.join(workdir, "admin-token")) as f:
                        server.token = f.read().strip()
                    return server
            except (OSError, urllib.error.URLError, ValueError, KeyError):
                time.sleep(0.2)
        raise RuntimeError("arbiter did not answer /health within 120 s")

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=30)

    @property
    def port(self):
        return int(self.url.rsplit(":", 1)[1].split("/")[0])

    def request(self, method, path, body=None, headers=None):
        """The decoded JSON answer; raises urllib.error.HTTPError on an error status."""
        data = None if body is None else json.dumps(body).encode()
        auth = {"Authorization": "Bearer " + self.token} if self.token else {}
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", **auth, **(headers or {})})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body):
        return self.request("POST", path, body)

    def log_lines(self):
        """The interaction log's JSON lines written so far (the server flushes every 0.2 s)."""
        if not self.interaction_log or not os.path.exists(self.interaction_log):
            return []
        with open(self.interaction_log) as f:
            return [json.loads(line) for line in f if line.strip()]


def browser(width=1366, height=768):
    """Headless Chromium (Debian's chromium and chromium-driver) through Selenium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    set_page_size(driver, width, height)
    return driver


def set_page_size(driver, width, height):
    """Sizes the window so that the page itself (and so a screenshot) is width × height: the
    window's size includes the browser's own bars, headless too."""
    driver.set_window_size(width, height)
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    if inner != [width, height]:
        driver.set_window_size(width + (width - inner[0]), height + (height - inner[1]))


def screenshot(driver, name):
    """Writes .build/screenshots/<name>.png at the window's size."""
    os.makedirs(SCREENSHOTS, exist_ok=True)
    path = os.path.join(SCREENSHOTS, name + ".png")
    driver.save_screenshot(path)
    return path


def wait_until(condition, timeout=5.0, interval=0.05, message="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


class Credential(grpc.UnaryUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds the bearer token to every call, as grpcurl's -H does."""

    def __init__(self, token):
        self.metadata = (("authorization", "Bearer " + token),)

    def _with_token(self, details):
        return details._replace(metadata=tuple(details.metadata or ()) + self.metadata)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_token(details), request)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._with_token(details), requests)
