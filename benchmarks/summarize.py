#!/usr/bin/env python3
"""summarize.py RESULTS_DIR - table of sci_infer vs llama.cpp throughput from bench_vs_llamacpp.sh.

Reads, per model tag <preset>_<dtype>:
  <tag>.engine_b<N>.json      `sci-infer bench --batch N --json` (one object; missing/bad -> n/a)
  <tag>.llama_bench.json      llama-bench -o json (list of tests; pp rows have n_gen 0, tg rows n_prompt 0)
  <tag>.batched_bench.jsonl   llama-batched-bench --output-format jsonl (one line per B)
Prints model, dtype, metric, sci_infer, llama.cpp, ratio (sci_infer / llama.cpp: > 1 = sci_infer
faster) and writes the same rows to RESULTS_DIR/summary.json.
"""
import glob
import json
import os
import re
import sys


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def load_jsonl(path):
    rows = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):   # the tool may interleave log lines on stdout
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    return rows


def engine_runs(d, tag):
    """{batch: bench object}; the engine prints one JSON object, possibly after log lines."""
    out = {}
    for p in glob.glob(os.path.join(d, f"{tag}.engine_b*.json")):
        n = int(re.search(r"\.engine_b(\d+)\.json$", p).group(1))
        obj = load_json(p)
        if obj is None:
            rows = load_jsonl(p)
            obj = rows[-1] if rows else None
        if isinstance(obj, dict):
            out[n] = obj
    return out


def split_tag(tag):
    """'100m_q8_0' -> ('100m', 'q8_0'); the dtype is whatever follows the preset's first '_'."""
    preset, _, dtype = tag.partition("_")
    return preset, dtype


def rows_for(d, tag):
    preset, dtype = split_tag(tag)
    eng = engine_runs(d, tag)
    lb = load_json(os.path.join(d, f"{tag}.llama_bench.json")) or []
    bb = {}
    for r in load_jsonl(os.path.join(d, f"{tag}.batched_bench.jsonl")):
        bb.setdefault(r.get("pl"), r)   # first row per B: the script appends a sacrificial B=1 run
    rows = []

    def add(metric, ours, theirs):
        rows.append({"model": preset, "dtype": dtype, "metric": metric, "sci_infer": ours, "llama_cpp": theirs})

    # Batch 1 against llama-bench (mean of its repetitions), flash attention off and on.
    e1 = eng.get(1, {})
    for fa in (0, 1):
        pp = [r["avg_ts"] for r in lb if int(r.get("flash_attn", -1)) == fa and r.get("n_gen") == 0]
        tg = [r["avg_ts"] for r in lb if int(r.get("flash_attn", -1)) == fa and r.get("n_prompt") == 0]
        if fa == 0 or pp or tg:   # fa1 rows only when llama-bench ran them
            add(f"B=1 prefill (llama-bench fa{fa})", e1.get("prefill_tok_s"), pp[0] if pp else None)
            add(f"B=1 decode (llama-bench fa{fa})", e1.get("decode_tok_s"), tg[0] if tg else None)
    # N parallel sequences against llama-batched-bench.
    for n in sorted(set(bb) | {b for b in eng if b != 1} | ({1} if bb else set())):
        e, b = eng.get(n, {}), bb.get(n, {})
        add(f"B={n} prefill (batched-bench)", e.get("prefill_tok_s"), b.get("speed_pp"))
        add(f"B={n} decode (batched-bench)", e.get("decode_tok_s"), b.get("speed_tg"))
        add(f"B={n} total (batched-bench)", e.get("total_tok_s"), b.get("speed"))
    return rows


def fmt(v):
    return "n/a" if v is None else f"{v:.1f}"


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "."
    tags = set()
    for p in os.listdir(d):
        m = re.match(r"(.+?)\.(engine_b\d+\.json|llama_bench\.json|batched_bench\.jsonl)$", p)
        if m:
            tags.add(m.group(1))
    order = {"tiny": 0, "15m": 1, "100m": 2}
    dorder = {"f32": 0, "f16": 1, "bf16": 2, "q8_0": 3}

    def key(t):
        p, dt = split_tag(t)
        return order.get(p, 9), p, dorder.get(dt, 9)

    rows = [r for t in sorted(tags, key=key) for r in rows_for(d, t)]
    for r in rows:
        ok = r["sci_infer"] is not None and r["llama_cpp"]
        r["ratio"] = r["sci_infer"] / r["llama_cpp"] if ok else None
    hdr = ("model", "dtype", "metric", "sci_infer tok/s", "llama.cpp tok/s", "ratio")
    table = [hdr] + [(r["model"], r["dtype"], r["metric"], fmt(r["sci_infer"]), fmt(r["llama_cpp"]),
                      "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}") for r in rows]
    w = [max(len(row[i]) for row in table) for i in range(len(hdr))]
    for i, row in enumerate(table):
        print("  ".join(c.ljust(w[j]) if j < 3 else c.rjust(w[j]) for j, c in enumerate(row)))
        if i == 0:
            print("  ".join("-" * x for x in w))
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
