#!/usr/bin/env bash
# Builds the C client (libarbiter-client.a and the arbiter-c tool) into .build-c/ from the
# repository's protos, installing Debian's protobuf-c packages and OpenSSL's headers (for TLS)
# first if they are missing. Link with -lprotobuf-c -lssl -lcrypto.
# Usage: tools/c-client/build.sh   (prints the path of arbiter-c)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/.build-c"
if ! command -v protoc-c >/dev/null || [[ ! -f /usr/include/protobuf-c/protobuf-c.h ]] || [[ ! -f /usr/include/openssl/ssl.h ]]; then
  echo "installing libprotobuf-c-dev, protobuf-c-compiler and libssl-dev" >&2
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  # The test suite builds this, the load generator and the web tests' packages at once: one
  # apt at a time (flock), each also waiting for dpkg's own lock.
  $sudo flock /tmp/arbiter-apt.lock apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo flock /tmp/arbiter-apt.lock apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    libprotobuf-c-dev protobuf-c-compiler libssl-dev >&2
fi
mkdir -p "$out/gen" "$out/proto/arbiter/v1"
# protoc-c 1.4 does not know proto3 `optional`; the wire format is the same without it (only a
# zero value is then not sent), so the C code is generated from copies with the keyword removed.
for f in common decision; do
  sed -E 's/^([[:space:]]*)optional /\1/' "$root/proto/arbiter/v1/$f.proto" >"$out/proto/arbiter/v1/$f.proto"
done
protoc-c --proto_path="$out/proto" --c_out="$out/gen" arbiter/v1/common.proto arbiter/v1/decision.proto
cc=${CC:-cc}
flags="-O2 -g -Wall -Wextra -Werror -std=c11 -D_POSIX_C_SOURCE=200809L -I$out/gen -I$here"
$cc $flags -c "$out/gen/arbiter/v1/common.pb-c.c" -o "$out/common.pb-c.o"
$cc $flags -c "$out/gen/arbiter/v1/decision.pb-c.c" -o "$out/decision.pb-c.o"
$cc $flags -c "$here/arbiter_client.c" -o "$out/arbiter_client.o"
ar rcs "$out/libarbiter-client.a" "$out/arbiter_client.o" "$out/common.pb-c.o" "$out/decision.pb-c.o"
$cc $flags "$here/arbiter-c.c" "$out/libarbiter-client.a" -lprotobuf-c -lssl -lcrypto -o "$out/arbiter-c"
echo "$out/arbiter-c"
