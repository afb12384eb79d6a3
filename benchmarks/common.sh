# Shell helpers shared by the benchmark scripts (sourced, not run).

# make_bench_model SCI PRESET DTYPE MODELS_DIR LOG_DIR: makes $MODELS_DIR/${PRESET}_$DTYPE.gguf with
# the deterministic maker unless a model made by the same (or a newer) binary is there already.
# Returns non-zero if there is no model afterwards.
make_bench_model() {
  local sci=$1 preset=$2 dtype=$3 models=$4 logdir=$5
  local tag=${preset}_${dtype}
  local model=$models/$tag.gguf
  if [ -x "$sci" ] && { [ ! -s "$model" ] || [ "$sci" -nt "$model" ]; }; then
    echo "[bench] make-model $tag" >&2
    "$sci" make-model --preset "$preset" --dtype "$dtype" --seed 1 --out "$model.tmp" >/dev/null 2>"$logdir/$tag.make.err" \
      && mv "$model.tmp" "$model" || { echo "[bench]   make-model failed" >&2; rm -f "$model.tmp"; }
  fi
  [ -s "$model" ]
}
