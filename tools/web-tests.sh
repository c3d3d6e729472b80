#!/usr/bin/env bash
# The browser and API tests (Tests/Web, pytest): the demo site and its snippet, the agent
# console and the dashboard in headless Chromium, and schemathesis against the OpenAPI
# document, each against a live server (ARBITER_BIN, default .build/debug/arbiter, started by
# Tests/Web/harness.py), the console and dashboard in Firefox too (Marionette), and /metrics
# scraped by a real Prometheus. Installs what they need when it is missing: Debian's chromium,
# chromium-driver, firefox-esr, protobuf-compiler and prometheus, and the pinned PyPI packages in
# .build/venv.
# Run by the Swift test suite (WebSuiteTests); alone: tools/web-tests.sh [pytest arguments].
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -x /usr/bin/chromedriver ]] || missing+=(chromium-driver)
command -v firefox-esr >/dev/null || missing+=(firefox-esr)
command -v protoc >/dev/null || missing+=(protobuf-compiler)
command -v prometheus >/dev/null || missing+=(prometheus)
if ((${#missing[@]})); then
  echo "installing ${missing[*]}" >&2
  # One apt at a time with the C client's and load generator's build scripts (flock), each
  # waiting for dpkg's own lock too: the test suite runs them at once on a fresh machine.
  (flock /tmp/arbiter-apt.lock apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    DEBIAN_FRONTEND=noninteractive flock /tmp/arbiter-apt.lock apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      "${missing[@]}") >/dev/null
fi
venv=.build/venv
[[ -x $venv/bin/python ]] || python3 -m venv "$venv"
if ! cmp -s Tests/Web/requirements.txt "$venv/requirements.installed"; then
  "$venv/bin/pip" install -q -r Tests/Web/requirements.txt
  cp Tests/Web/requirements.txt "$venv/requirements.installed"
fi
cd Tests/Web
exec "../../$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
