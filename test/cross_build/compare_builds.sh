#!/usr/bin/env bash
# compare_builds.sh REF_BIN OTHER_BIN WORKDIR
# The promise across builds: a second configuration (Kokkos OpenMP instead of Serial, compiled
# for the baseline x86-64-v2) must give the same bits as the reference build, on each host
# kernel path (chosen at run time). Checks logits at every position for every weight type, and a sampled 2-rank batch job
# (all result datasets), with the model files made by the reference build.
set -euo pipefail
REF=$1 OTHER=$2 WORK=$3
MPIEXEC=$(command -v mpiexec.mpich || command -v mpiexec)
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
export OMP_PROC_BIND=false  # Kokkos' OpenMP backend warns without it; binding does not change bits
fail=0
for dt in f32 f16 bf16 q8_0; do
  "$REF" make-model --preset tiny --dim 128 --heads 4 --kv-heads 2 --dtype $dt --seed 5 --context 256 \
    --out m_$dt.gguf >/dev/null
  toks=1,5,9,300,17,22,400,3,77,123,45,6,250,311,2,8,99,401,13,64,128,500,7,31,200,11,42,19,301,88,5,40,3,9
  "$REF" logits -m m_$dt.gguf --tokens $toks --all-positions --out ref_$dt.f32 >/dev/null
  # The other build on its best run-time kernel path and on the portable one (there, for x86-64-v2,
  # std::fma is libm's software fma): both must give the reference build's bits.
  for path in auto generic; do
    SCI_INFER_CPU_PATH=$path OMP_NUM_THREADS=2 "$OTHER" logits -m m_$dt.gguf --tokens $toks --all-positions \
      --out other_$dt.f32 >/dev/null
    if cmp -s ref_$dt.f32 other_$dt.f32; then echo "$dt: logits at all 34 positions identical (other build: $path path)"
    else echo "$dt: logits DIFFER between the builds (other build: $path path)"; fail=1; fi
  done
done
/usr/bin/python3 - <<'PY'
import h5py, numpy as np
rng = np.random.default_rng(1)
words = ["alpha", "beta", "gamma", "delta", "ocean", "river", "stone"]
with h5py.File("in.h5", "w") as f:
    f.create_dataset("prompts", data=[" ".join(rng.choice(words, 1 + i % 9)) for i in range(24)],
                     dtype=h5py.string_dtype("utf-8"))
PY
gen=(--task generate --temperature 0.8 --top-k 20 --seed 3 --max-new-tokens 16 --progress-seconds 60)
"$MPIEXEC" -n 2 "$REF" run -m m_q8_0.gguf -i in.h5 -o ref.h5 "${gen[@]}" >/dev/null
OMP_NUM_THREADS=1 "$MPIEXEC" -n 2 "$OTHER" run -m m_q8_0.gguf -i in.h5 -o other.h5 --max-batch 5 "${gen[@]}" >/dev/null
/usr/bin/python3 - <<'PY' || fail=1
import h5py, numpy as np, sys
a, b = h5py.File("ref.h5"), h5py.File("other.h5")
bad = [n for n in a["results"] if not all(np.asarray(x).tobytes() == np.asarray(y).tobytes()
       for x, y in zip(a["results"][n][()], b["results"][n][()]))]
assert (a["results/status"][()] == 0).all(), "records failed in the reference job"
print("run (2 ranks, Q8_0, sampled):", "identical" if not bad else f"DIFFERENT in {bad}",
      "| kernel paths:", a.attrs["sci_infer.kernel_path"], "vs", b.attrs["sci_infer.kernel_path"])
sys.exit(1 if bad else 0)
PY
if [ $fail = 0 ]; then echo "cross-build: identical"; else echo "cross-build: builds DIFFER"; exit 1; fi
