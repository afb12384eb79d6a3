#!/usr/bin/env bash
# peer_setup.sh - installs llama.cpp, the measuring peer of the numerics and tokenizer tests.
#
#   bash scripts/peer_setup.sh          # PEER_DIR (default /tmp/peer): ~1 min, idempotent
#
# What the tests need, and where they look for it (test/CMakeLists.txt passes PEER_DIR on):
#   $PEER_DIR/npm/node_modules/node-llama-cpp   llama.cpp's prebuilt CPU binding, driven by
#                                               test/peer/llamacpp_logits.mjs for logits
#   $PEER_DIR/llama.cpp                         llama.cpp's source at the same version: its
#                                               models/ggml-vocab-*.gguf{,.inp,.out} test vectors
#                                               and gguf-py
# Sources: the npm registry (node-llama-cpp 3.22.1 = llama.cpp v0.5.0) and, when node is missing,
# Debian's nodejs/npm packages. Nothing is downloaded at install time beyond the npm packages:
# NODE_LLAMA_CPP_SKIP_DOWNLOAD keeps node-llama-cpp's own install step from fetching or building
# llama.cpp, since the prebuilt linux-x64 binary is installed as a package of its own.
set -euo pipefail

PEER_DIR=${PEER_DIR:-/tmp/peer}
NLC_VERSION=3.22.1
npm_dir=$PEER_DIR/npm
src_dir=$PEER_DIR/llama.cpp
say() { echo "[peer_setup] $*"; }

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  say "node/npm missing: installing Debian's nodejs and npm"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq nodejs npm >/dev/null
fi

mkdir -p "$npm_dir"
cd "$npm_dir"
[ -f package.json ] || npm init -y >/dev/null
if [ ! -f node_modules/node-llama-cpp/dist/index.js ] || [ ! -d node_modules/@node-llama-cpp/linux-x64 ]; then
  say "installing node-llama-cpp@$NLC_VERSION (+ its prebuilt linux-x64 binary) under $npm_dir"
  NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --omit=optional --no-audit --no-fund --loglevel=error \
    "node-llama-cpp@$NLC_VERSION" "@node-llama-cpp/linux-x64@$NLC_VERSION" >/dev/null
fi

# The package carries llama.cpp's full source as a git bundle: clone it for the vocab files.
if [ ! -d "$src_dir/.git" ]; then
  bundle=$npm_dir/node_modules/node-llama-cpp/llama/gitRelease.bundle
  [ -f "$bundle" ] || { say "no llama.cpp source bundle at $bundle"; exit 1; }
  say "unpacking llama.cpp's source into $src_dir"
  rm -rf "$src_dir"
  git -c advice.detachedHead=false clone -q "$bundle" "$src_dir"
fi

# Check what the tests will check, so a broken install fails here and not as a skip later.
[ -f "$npm_dir/node_modules/node-llama-cpp/dist/index.js" ] || { say "node-llama-cpp is incomplete"; exit 1; }
ls "$src_dir"/models/ggml-vocab-*.gguf >/dev/null 2>&1 || { say "no vocab files in $src_dir/models"; exit 1; }
say "ready: node-llama-cpp $NLC_VERSION in $npm_dir, llama.cpp source in $src_dir"
