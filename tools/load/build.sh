#!/usr/bin/env bash
# Builds arbiter-load (the C load generator for gRPC, on nghttp2, the lean protocol and HTTP/1.1) into
# .build-c/, installing Debian's libnghttp2-dev first if it is missing.
# Usage: tools/load/build.sh   (prints the path)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/.build-c"
if [[ ! -f /usr/include/nghttp2/nghttp2.h ]]; then
  echo "installing libnghttp2-dev" >&2
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  # One apt at a time with the other build scripts and the web tests (flock), waiting for dpkg's lock.
  $sudo flock /tmp/arbiter-apt.lock apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo flock /tmp/arbiter-apt.lock apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    libnghttp2-dev >&2
fi
mkdir -p "$out"
${CC:-cc} -O2 -g -Wall -Wextra -Werror -std=c11 "$here/arbiter-load.c" -lnghttp2 -lm -o "$out/arbiter-load"
echo "$out/arbiter-load"
