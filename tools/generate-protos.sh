#!/usr/bin/env bash
# Regenerates the Swift protobuf and gRPC code in Sources/ArbiterAPI/Generated from proto/.
# The output is committed: CI never runs this (building protoc-gen-swift takes ~10 minutes).
#
# Needs protoc (Debian: protobuf-compiler) and builds the two plugins from the versions
# Package.swift pins, in .build-protoc-plugins/ (git-ignored), unless PROTOC_GEN_SWIFT and
# PROTOC_GEN_GRPC_SWIFT point at existing plugin binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

command -v protoc >/dev/null || { echo "protoc not found: apt-get install -y protobuf-compiler" >&2; exit 1; }

plugins="$root/.build-protoc-plugins"
if [[ -z "${PROTOC_GEN_SWIFT:-}" || -z "${PROTOC_GEN_GRPC_SWIFT:-}" ]]; then
  if [[ ! -d "$plugins/grpc-swift-protobuf" ]]; then
    mkdir -p "$plugins"
    git clone -q --branch 2.4.1 https://github.com/grpc/grpc-swift-protobuf "$plugins/grpc-swift-protobuf"
  fi
  (cd "$plugins/grpc-swift-protobuf" &&
    swift build -c release --product protoc-gen-grpc-swift-2 &&
    swift build -c release --product protoc-gen-swift)
  bin=$(cd "$plugins/grpc-swift-protobuf" && swift build -c release --show-bin-path)
  PROTOC_GEN_SWIFT="$bin/protoc-gen-swift"
  PROTOC_GEN_GRPC_SWIFT="$bin/protoc-gen-grpc-swift-2"
fi

out="$root/Sources/ArbiterAPI/Generated"
rm -rf "$out"
mkdir -p "$out"
protos=$(cd proto && find . -name '*.proto' | sed 's|^\./||' | sort)

(cd proto && protoc \
  --plugin=protoc-gen-swift="$PROTOC_GEN_SWIFT" \
  --plugin=protoc-gen-grpc-swift="$PROTOC_GEN_GRPC_SWIFT" \
  --swift_out="$out" --swift_opt=Visibility=Public,FileNaming=PathToUnderscores \
  --grpc-swift_out="$out" \
  --grpc-swift_opt=Visibility=Public,FileNaming=PathToUnderscores,Client=true,Server=true \
  $protos)

echo "generated $(ls "$out" | wc -l) files in Sources/ArbiterAPI/Generated"
