#!/usr/bin/env bash
# peer_gate.sh DEFAULT_PEER_DIR NEED -- COMMAND [ARG...]
#
# Runs one test that compares sci-infer with llama.cpp, the measuring peer that
# scripts/peer_setup.sh installs (scripts/test.sh runs it before ctest). Every such CTest entry
# goes through here, so that a missing peer is never a silent pass:
#   - peer present: COMMAND runs, with PEER_DIR exported (and SCI_INFER_VOCAB_DIR for vocab tests);
#   - peer absent, outside CI: prints "SKIPPED: <why>" and exits 77 (the entry's SKIP_RETURN_CODE,
#     so ctest lists it as "Skipped" and scripts/test.sh repeats the reason after the summary);
#   - peer absent with CI=true: prints the reason and FAILS (exit 1): CI must run the comparisons.
# COMMAND's own exit 77 (its own finer checks) is treated the same way.
#
# NEED, comma-separated: "logits" (node, node-llama-cpp under $PEER_DIR/npm), "gguf-py"
# (llama.cpp's Python GGUF reader under $PEER_DIR/llama.cpp) or "vocab:NAME" (llama.cpp's
# models/ggml-vocab-NAME.gguf{,.inp,.out} under $PEER_DIR/llama.cpp) or "quantize" (llama.cpp's
# llama-quantize, built from $PEER_DIR/llama.cpp by scripts/peer_quantize_setup.sh into a cache;
# its path is exported as LLAMA_QUANTIZE).
# PEER_DIR in the environment at test time wins over DEFAULT_PEER_DIR (the configure-time one).
set -uo pipefail
[ $# -ge 4 ] && [ "$3" = "--" ] || { echo "usage: $0 DEFAULT_PEER_DIR NEED -- COMMAND..." >&2; exit 2; }
export PEER_DIR=${PEER_DIR:-$1}
need=$2
shift 3

in_ci() { case "${CI:-}" in true | TRUE | True | 1 | yes) return 0 ;; *) return 1 ;; esac; }

missing() {
  local why="llama.cpp peer missing: $1 (install it: PEER_DIR=$PEER_DIR bash scripts/peer_setup.sh)"
  if in_ci; then
    echo "FAILED: $why; CI=true, and in CI a llama.cpp comparison may not be skipped"
    exit 1
  fi
  echo "SKIPPED: $why"
  exit 77
}

IFS=, read -ra needs <<<"$need"
for n in "${needs[@]}"; do
  case "$n" in
    logits)
      command -v node >/dev/null || missing "no 'node' on PATH"
      nlc=$PEER_DIR/npm/node_modules/node-llama-cpp/dist/index.js
      [ -f "$nlc" ] || missing "$nlc not found"
      ;;
    gguf-py)
      [ -d "$PEER_DIR/llama.cpp/gguf-py/gguf" ] || missing "$PEER_DIR/llama.cpp/gguf-py not found"
      ;;
    vocab:*)
      name=${n#vocab:}
      export SCI_INFER_VOCAB_DIR=$PEER_DIR/llama.cpp/models
      for f in "$SCI_INFER_VOCAB_DIR/ggml-vocab-$name.gguf"{,.inp,.out}; do
        [ -f "$f" ] || missing "$f not found"
      done
      ;;
    quantize)
      setup=$(dirname "$0")/../../scripts/peer_quantize_setup.sh
      LLAMA_QUANTIZE=$(bash "$setup") || missing "llama-quantize could not be built from $PEER_DIR/llama.cpp (bash $setup)"
      export LLAMA_QUANTIZE
      ;;
    *) echo "$0: unknown NEED '$n'" >&2; exit 2 ;;
  esac
done

"$@"
rc=$?
[ $rc -eq 77 ] && missing "the test itself reported the peer unusable (see above)"
exit $rc
