"""The OpenAPI document: up to date with the .proto files and the routes, served at /openapi.json,
and true of the live server: schemathesis (every operation, positive and negative data, all
checks) finds no failure."""
import json
import os
import subprocess
import sys

import pytest

from harness import REPO, Server

DOC = os.path.join(REPO, "Sources", "ArbiterHTTP", "Web", "openapi.json")


@pytest.fixture(scope="module")
def own_server():
    """A server of its own: schemathesis's thousands of calls use up quotas and the contact
    centre's capacity, which the page tests need."""
    s = Server.start(fresh=True)
    yield s
    s.stop()


def test_the_committed_document_is_what_the_generator_writes(tmp_path):
    sys.path.insert(0, os.path.join(REPO, "tools"))
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_openapi", os.path.join(REPO, "tools", "make-openapi.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    generated = module.document(module.descriptors())
    with open(DOC) as f:
        committed = json.load(f)
    assert generated == committed, "openapi.json is stale: run .build/venv/bin/python tools/make-openapi.py"


def test_the_server_serves_it_with_the_live_bundles_limits(server):
    served = server.get("/openapi.json")
    with open(DOC) as f:
        committed = json.load(f)
    assert served["openapi"] == "3.1.0"
    assert set(served["paths"]) == set(committed["paths"])
    features = served["components"]["schemas"]["arbiter.v1.InteractionContext"]["properties"]["features"]
    # The demo schema has no context feature besides the channel.
    assert features["anyOf"][0]["maxItems"] == 0


def test_schemathesis_finds_no_failure(own_server):
    server = own_server
    schemathesis = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    run = subprocess.run(
        [schemathesis, "--config-file", os.path.join(REPO, "Tests", "Web", "schemathesis.toml"), "run",
         server.url + "/openapi.json", "--checks", "all", "--max-examples", "60",
         # As a client with the admin token; schemathesis also calls without it (ignored_auth).
         "--header", f"Authorization: Bearer {server.token}",
         # The agents' event stream stays open by design; test_console covers it.
         "--exclude-path", "/v1/agents/{agentId}/events", "--generation-deterministic"],
        capture_output=True, text=True, timeout=900)
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    assert " passed" in run.stdout and "failures" not in run.stdout.split("SUMMARY")[-1], report
