#!/usr/bin/env bash
# Regenerates the README's screenshots (docs/images/site.png, console.png, dashboard.png) from
# the browser tests' own, taken at 1366×768 against a live server: builds the server, runs the
# page tests (tools/web-tests.sh) and copies their screenshots.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product arbiter >/dev/null
ARBITER_BIN="$(swift build --show-bin-path)/arbiter" tools/web-tests.sh test_site.py test_console.py test_dashboard.py
mkdir -p docs/images
cp .build/screenshots/site-mortgages.png docs/images/site.png
cp .build/screenshots/console.png docs/images/console.png
cp .build/screenshots/dashboard.png docs/images/dashboard.png
ls -l docs/images
