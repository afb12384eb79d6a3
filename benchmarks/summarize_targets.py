#!/usr/bin/env python3
"""summarize_targets.py - the issue-5 performance targets from the raw outputs of bench_targets.sh.

    summarize_targets.py summarize DIR      # print the table, write DIR/summary.json
    summarize_targets.py DIR                # the same
    summarize_targets.py make-input OUT.h5 --records N --prompt-tokens P --vocab V [--seed 1]
    summarize_targets.py job-stats --input IN.h5 --output OUT.h5 --t0 T --t1 T [--time-file F]

Files read from DIR, per model tag <preset>_<dtype> and repetition r (missing/bad -> n/a):
  <tag>.r<r>.job.<gemm>.json         job-stats of one `sci-infer run` (whole-process wall time)
  <tag>.r<r>.batched.fa<fa>.jsonl    llama-batched-bench --output-format jsonl
  <tag>.r<r>.b1.<gemm>.json          `sci-infer bench --batch 1 --json`, prompt 128, gen 128
  <tag>.r<r>.lb.json                 llama-bench -p 128 -n 128 -fa 0,1 -o json
  <tag>.r<r>.long.<gemm>.json        `sci-infer bench --batch 1 --json`, long prompt, gen 0
  <tag>.r<r>.lb_long.fa<fa>.json     llama-bench -p LONG -n 0 -fa <fa> -o json
  <tag>.r<r>.stream.json             stream_read --json
  *.time                             /usr/bin/time -f "%M %e": peak RSS KiB, elapsed s
  <tag>.inspect.txt, <tag>.weights.txt, <tag>.long_prompt, meta.json
Every figure is the median over repetitions; for llama.cpp the best flash-attention setting
(and, for the batch job, the best number of parallel sequences) of those medians.
"""
import argparse
import glob
import json
import os
import re
import statistics
import sys

GOALS = {  # target key -> (comparison, bound); q8_0 has its own offline-job goal
    "job": (">=", 1.15), "job_q8_0": (">=", 1.5), "decode": (">=", 1.0), "bandwidth": (">=", 0.85),
    "prefill": (">=", 1.0), "rss": ("<=", 1.1), "fast": ("<=", 1.05),
}


# ---------------------------------------------------------------------------------------------
# helpers for bench_targets.sh

def make_input(a):
    import h5py
    import numpy as np
    rng = np.random.default_rng(a.seed)
    toks = rng.integers(3, a.vocab, size=(a.records, a.prompt_tokens), dtype=np.int32)  # 0-2: special ids
    with h5py.File(a.output, "w") as f:
        ds = f.create_dataset("tokens", (a.records,), dtype=h5py.vlen_dtype(np.int32),
                              chunks=(min(a.records, 4096),))
        for i in range(a.records):
            ds[i] = toks[i]
    print(f"wrote {a.output}: {a.records} records of {a.prompt_tokens} random token ids in [3, {a.vocab}), "
          f"seed {a.seed}")
    return 0


def read_time_file(path, full=False):
    """(peak RSS KiB, elapsed s) from /usr/bin/time -f '%M %e %U %S' (full: + user s, sys s)."""
    try:
        with open(path) as f:
            for line in f:   # a failed command adds a "Command exited with ..." line first
                parts = line.split()
                if len(parts) in (2, 4):
                    try:
                        v = [int(parts[0])] + [float(x) for x in parts[1:]]
                    except ValueError:
                        continue
                    v += [None] * (4 - len(v))
                    return tuple(v) if full else tuple(v[:2])
    except OSError:
        pass
    return (None,) * (4 if full else 2)


def foreign_load(base):
    """Share of the machine's CPU capacity used by other processes during the run that wrote
    base.time / base.load: (busy CPU seconds - the run's own user+sys) / (elapsed x nproc)."""
    _, e, u, sy = read_time_file(base + ".time", full=True)
    try:
        busy, tck, ncpu = (float(x) for x in open(base + ".load").read().split())
    except (OSError, ValueError):
        return None
    if not e or u is None or not ncpu:
        return None
    return max(0.0, (busy / tck - u - sy) / (e * ncpu))


def job_stats(a):
    import h5py
    with h5py.File(a.input) as f:
        lens = [len(t) for t in f["tokens"][()]]
    with h5py.File(a.output) as f:
        status = f["results/status"][()]
        gen = [len(t) for t in f["results/tokens"][()]]
    ok = [i for i, s in enumerate(status) if s == 0]
    prompt = sum(lens[i] for i in ok)
    generated = sum(gen[i] for i in ok)
    wall = float(a.t1) - float(a.t0)
    rss, _ = read_time_file(a.time_file) if a.time_file else (None, None)
    print(json.dumps({"gemm": a.gemm, "records": len(lens), "ok_records": len(ok), "prompt_tokens": prompt,
                      "generated_tokens": generated, "wall_s": round(wall, 4),
                      "tok_s": (prompt + generated) / wall if wall > 0 else None,
                      "generated_tok_s": generated / wall if wall > 0 else None, "max_rss_kib": rss}))
    return 0


# ---------------------------------------------------------------------------------------------
# reading raw outputs

def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        pass
    rows = load_jsonl(path)  # a tool may print log lines before its JSON
    return rows[-1] if rows else None


def load_jsonl(path):
    rows = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    return rows


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def reps(d, tag, pattern):
    """Files <tag>.r<N>.<pattern>, sorted by N."""
    out = []
    for p in glob.glob(os.path.join(d, f"{glob.escape(tag)}.r*.{pattern}")):
        m = re.search(r"\.r(\d+)\.", os.path.basename(p)[len(tag):])
        if m:
            out.append((int(m.group(1)), p))
    return [p for _, p in sorted(out)]


def flash(v):
    """llama-bench's flash_attn field: bool, int or string -> 0/1."""
    if isinstance(v, str):
        return 1 if v.lower() in ("1", "on", "true") else 0
    return int(bool(v))


def parse_inspect(path):
    """Model shape and tensor bytes from `sci-infer inspect --tensors`."""
    info = {"tensors": {}}
    try:
        text = open(path).read()
    except OSError:
        return info
    for m in re.finditer(r"^\s+(\S+)\s+(\S+)\s+\[([^\]]*)\]\s+(\d+) bytes$", text, re.M):
        info["tensors"][m.group(1)] = {"type": m.group(2), "bytes": int(m.group(4))}
    m = re.search(r"vocab (\d+), dim (\d+), layers (\d+), heads (\d+) \(kv (\d+)\), ffn (\d+), context (\d+)", text)
    if m:
        for k, v in zip(("vocab", "dim", "layers", "heads", "kv_heads", "ffn", "context"), m.groups()):
            info[k] = int(v)
    return info


def parse_weights(path):
    """Packed weight bytes from the stderr of `sci-infer generate` ('weights X MiB')."""
    try:
        m = re.search(r"weights ([\d.]+) MiB", open(path).read())
        return float(m.group(1)) * 1048576 if m else None
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------
# the targets of one model

def tag_figures(d, tag, meta):
    s = meta.get("settings", {})
    pp, tg = int(s.get("prompt_tokens", 128)), int(s.get("gen_tokens", 128))
    fast = s.get("fast_gemm")
    f = {"tag": tag}

    # 1: offline batch job.
    def job(gemm):
        runs = [load_json(p) for p in reps(d, tag, f"job.{gemm}.json")]
        runs = [r for r in runs if isinstance(r, dict) and r.get("tok_s")]
        bad = [r for r in runs if r.get("ok_records") != r.get("records")]
        return {"tok_s": median(r["tok_s"] for r in runs), "wall_s": median(r["wall_s"] for r in runs),
                "reps": [round(r["tok_s"], 2) for r in runs], "failed_records": sum(r["records"] - r["ok_records"] for r in bad),
                "max_rss_kib": median(r.get("max_rss_kib") for r in runs)}
    f["job"] = job("fixed")
    if fast:
        f["job_fast"] = job(fast)
    per = {}  # (npl, fa) -> [S per rep]
    for p in reps(d, tag, "batched.fa*.jsonl"):
        fa = re.search(r"\.batched\.fa(\w+)\.jsonl$", p).group(1)
        seen = set()
        for r in load_jsonl(p):
            n = r.get("pl")
            if n in seen:   # the sacrificial trailing B=1 run
                continue
            seen.add(n)
            per.setdefault((n, fa), []).append(r.get("speed"))
    npl = {int(x) for x in str(s.get("npl", "")).split(",") if x.strip().isdigit()}
    best = None
    for (n, fa), v in per.items():
        if npl and n not in npl:
            continue
        m = median(v)
        if m is not None and (best is None or m > best[0]):
            best = (m, n, fa)
    f["peer_job"] = {"S": best[0] if best else None, "npl": best[1] if best else None, "fa": best[2] if best else None,
                     "medians": {f"npl{n}_fa{fa}": median(v) for (n, fa), v in sorted(per.items(), key=str)}}

    # 2 + 3: B=1 decode and prefill.
    def bench(label, gemm):
        runs = [load_json(p) for p in reps(d, tag, f"{label}.{gemm}.json")]
        runs = [r for r in runs if isinstance(r, dict)]
        rss = [read_time_file(p + ".time")[0] for p in reps(d, tag, f"{label}.{gemm}.json")]
        return {"prefill_tok_s": median(r.get("prefill_tok_s") for r in runs),
                "decode_tok_s": median(r.get("decode_tok_s") for r in runs),
                "max_rss_kib": median(rss), "n": len(runs)}
    f["b1"] = bench("b1", "fixed")
    f["long"] = bench("long", "fixed")
    if fast:
        f["b1_fast"], f["long_fast"] = bench("b1", fast), bench("long", fast)
    lb = {}  # (kind, fa) -> [tok/s]
    type_k = None
    for p in reps(d, tag, "lb.json"):
        for r in load_json(p) or []:
            kind = "pp" if r.get("n_gen") == 0 else "tg" if r.get("n_prompt") == 0 else None
            if kind:
                lb.setdefault((kind, flash(r.get("flash_attn"))), []).append(r.get("avg_ts"))
                type_k = r.get("type_k", type_k)
    for p in reps(d, tag, "lb_long.fa*.json"):
        fa = int(re.search(r"\.fa(\d)\.json$", p).group(1))
        for r in load_json(p) or []:
            if r.get("n_gen") == 0:
                lb.setdefault(("long", fa), []).append(r.get("avg_ts"))
        lb.setdefault(("rss", fa), []).append(read_time_file(p + ".time")[0])

    def best_fa(kind, pick=max):
        c = [(median(v), fa) for (k, fa), v in lb.items() if k == kind and median(v) is not None]
        return pick(c) if c else (None, None)
    f["peer"] = {k: dict(zip(("value", "fa"), best_fa(k))) for k in ("pp", "tg", "long")}
    f["peer"]["rss_kib"] = dict(zip(("value", "fa"), best_fa("rss", min)))
    f["peer"]["medians"] = {f"{k}_fa{fa}": median(v) for (k, fa), v in sorted(lb.items())}
    f["long_prompt"] = None
    try:
        f["long_prompt"] = int(open(os.path.join(d, f"{tag}.long_prompt")).read())
    except (OSError, ValueError):
        pass

    # 2: bandwidth efficiency.
    stream = [load_json(p) for p in reps(d, tag, "stream.json")]
    f["stream_gb_s"] = median(r.get("best_gb_s") for r in stream if isinstance(r, dict))
    info = parse_inspect(os.path.join(d, f"{tag}.inspect.txt"))
    t = info["tensors"]
    emb = t.get("token_embd.weight", {}).get("bytes")
    gguf_read = None
    if t and emb is not None:
        # Read per token: every matrix once, the output matrix (token_embd when tied) included;
        # only one row of the embedding table.
        gguf_read = sum(v["bytes"] for k, v in t.items() if k != "token_embd.weight")
        if "output.weight" not in t:
            gguf_read += emb
    packed = parse_weights(os.path.join(d, f"{tag}.weights.txt"))
    # sci_infer's packed total is every packed matrix, the output one included; the embedding
    # table is not in it (each step reads its few rows from the file).
    sci_read = packed if packed is not None else gguf_read
    kv_pos = None
    if all(k in info for k in ("layers", "dim", "heads", "kv_heads")):
        kv_dim = info["kv_heads"] * info["dim"] // info["heads"]
        kv_pos = info["layers"] * 2 * kv_dim  # elements per cached position (K and V)
    bw = {"weights_read_bytes_sci": sci_read, "weights_read_bytes_gguf": gguf_read, "packed_weight_bytes": packed,
          "kv_elements_per_position": kv_pos, "stream_gb_s": f["stream_gb_s"]}
    # sci_infer's KV cache is float32 (lib/engine/kv_cache.cpp). Its bench decodes after a
    # `pp`-token prompt: decode steps 1..tg-1 attend over pp+1..pp+tg-1 positions, mean pp + tg/2.
    if sci_read is not None and kv_pos is not None and f["b1"]["decode_tok_s"]:
        per_tok = sci_read + (pp + tg / 2) * kv_pos * 4
        bw["sci_bytes_per_token"] = per_tok
        bw["sci_gb_s"] = per_tok * f["b1"]["decode_tok_s"] / 1e9
    # llama.cpp, for reference: F16 KV by default, tg from an empty context, mean (tg+1)/2 positions.
    if gguf_read is not None and kv_pos is not None and f["peer"]["tg"]["value"]:
        kv_bytes = {"f16": 2, "bf16": 2, "f32": 4, "q8_0": 34 / 32}.get(str(type_k).lower(), 2)
        per_tok = gguf_read + (tg + 1) / 2 * kv_pos * kv_bytes
        bw["peer_bytes_per_token"] = per_tok
        bw["peer_gb_s"] = per_tok * f["peer"]["tg"]["value"] / 1e9
    f["bandwidth"] = bw

    # Interference: runs during which other processes used over 5% of the machine.
    loads = {}
    for p in glob.glob(os.path.join(d, f"{glob.escape(tag)}.r*.load")):
        v = foreign_load(p[:-len(".load")])
        if v is not None:
            loads[os.path.basename(p)[:-len(".load")]] = round(v, 3)
    f["foreign_load"] = loads
    return f


def ratio(a, b):
    return a / b if a is not None and b else None


def rows_for(f, dtype, fast):
    rows = []

    def other_load(runs):
        """The largest share of the CPU other processes used during any run behind a row."""
        v = [x for k, x in f["foreign_load"].items() if any(re.search(rf"\.r\d+\.{p}$", k) for p in runs)]
        return max(v) if v else None

    def add(target, unit, ours, theirs, goal_key, ratio_v=None, note="", cfg="", blank=False, runs=()):
        r = ratio_v if ratio_v is not None else ratio(ours, theirs)
        op, bound = GOALS[goal_key] if goal_key else (None, None)
        res = "n/a" if r is None else "info" if op is None else \
            ("PASS" if (r >= bound if op == ">=" else r <= bound) else "FAIL")
        rows.append({"dtype": dtype, "target": target, "unit": unit, "sci_infer": ours, "reference": theirs,
                     "ratio": r, "goal": f"{op} {bound:.2f}" if op else "-", "result": res, "note": note,
                     "reference_cfg": cfg, "blank": blank, "other_load": other_load(runs)})

    pj = f["peer_job"]
    add("1 offline job (pp+tg)/s", "tok/s", f["job"]["tok_s"], pj["S"], "job_q8_0" if dtype == "q8_0" else "job",
        note=f"llama.cpp: llama-batched-bench best S at npl {pj['npl']}, fa {pj['fa']}" if pj["S"] else "",
        cfg=f"npl {pj['npl']} fa {pj['fa']}" if pj["S"] else "", runs=(r"job\.fixed\.log", r"batched\..*"))
    pk = f["peer"]
    add("2 B=1 decode", "tok/s", f["b1"]["decode_tok_s"], pk["tg"]["value"], "decode",
        note=f"llama.cpp: llama-bench tg, fa {pk['tg']['fa']}" if pk["tg"]["value"] else "",
        cfg=f"fa {pk['tg']['fa']}" if pk["tg"]["value"] else "", runs=(r"b1\.fixed\.json", r"lb\.json"))
    bw = f["bandwidth"]
    add("2 decode bandwidth / stream read", "GB/s", bw.get("sci_gb_s"), bw.get("stream_gb_s"), "bandwidth",
        note="reference: stream_read GB/s (best pass, median over reps)", cfg="stream_read",
        runs=(r"b1\.fixed\.json", r"stream\.json"))
    add("  llama.cpp decode bandwidth / stream", "GB/s", None, bw.get("peer_gb_s"), None,
        ratio_v=ratio(bw.get("peer_gb_s"), bw.get("stream_gb_s")), blank=True,
        note="llama.cpp's own efficiency, for comparison: its GB/s over stream_read's", cfg="info only",
        runs=(r"lb\.json", r"stream\.json"))
    add("3 B=1 prefill 128", "tok/s", f["b1"]["prefill_tok_s"], pk["pp"]["value"], "prefill",
        note=f"llama.cpp: llama-bench pp, fa {pk['pp']['fa']}" if pk["pp"]["value"] else "",
        cfg=f"fa {pk['pp']['fa']}" if pk["pp"]["value"] else "", runs=(r"b1\.fixed\.json", r"lb\.json"))
    lp = f.get("long_prompt") or "long"
    add(f"3 B=1 prefill {lp}", "tok/s", f["long"]["prefill_tok_s"], pk["long"]["value"], "prefill",
        note=f"llama.cpp: llama-bench pp, fa {pk['long']['fa']}" if pk["long"]["value"] else "",
        cfg=f"fa {pk['long']['fa']}" if pk["long"]["value"] else "", runs=(r"long\.fixed\.json", r"lb_long\..*"))
    mib = lambda k: k / 1024 if k is not None else None
    add(f"4 peak RSS, prefill {lp}", "MiB", mib(f["long"]["max_rss_kib"]), mib(pk["rss_kib"]["value"]), "rss",
        note=f"llama.cpp: the smaller of fa 0/1 (fa {pk['rss_kib']['fa']})" if pk["rss_kib"]["value"] else "",
        cfg=f"fa {pk['rss_kib']['fa']}" if pk["rss_kib"]["value"] else "", runs=(r"long\.fixed\.json", r"lb_long\..*"))
    if fast:
        pairs = [("offline job", "tok/s", f["job"]["tok_s"], f.get("job_fast", {}).get("tok_s"), "job", "log"),
                 ("B=1 decode", "tok/s", f["b1"]["decode_tok_s"], f.get("b1_fast", {}).get("decode_tok_s"), "b1", "json"),
                 ("B=1 prefill 128", "tok/s", f["b1"]["prefill_tok_s"], f.get("b1_fast", {}).get("prefill_tok_s"),
                  "b1", "json"),
                 (f"B=1 prefill {lp}", "tok/s", f["long"]["prefill_tok_s"], f.get("long_fast", {}).get("prefill_tok_s"),
                  "long", "json")]
        worst = None
        all_runs = []
        for name, unit, dflt, fst, kind, ext in pairs:
            r = ratio(fst, dflt)
            runs = (rf"{kind}\.fixed\.{ext}", rf"{kind}\.{re.escape(fast)}\.{ext}")
            all_runs += runs
            add(f"5 {fast}/fixed: {name}", unit, dflt, fst, "fast", ratio_v=r,
                note=f"sci_infer column: --gemm fixed; reference: --gemm {fast}; ratio fast/default",
                cfg=f"sci --gemm {fast}", runs=runs)
            if r is not None:
                worst = r if worst is None else max(worst, r)
        add(f"5 max {fast}/fixed", "", None, None, "fast", ratio_v=worst, blank=True,
            note="max over targets 1-3 of fast/default", cfg="targets 1-3", runs=all_runs)
    return rows


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    return f"{v:.2f}" if abs(v) < 100 else f"{v:.1f}" if abs(v) < 100000 else f"{v:.0f}"


def summarize(d):
    meta = load_json(os.path.join(d, "meta.json")) or {}
    s = meta.get("settings", {})
    fast = s.get("fast_gemm")
    tags = set()
    for p in os.listdir(d):
        m = re.match(r"(.+?)\.r\d+\.", p)
        if m:
            tags.add(m.group(1))
    dorder = {"f32": 0, "f16": 1, "bf16": 2, "q8_0": 3}
    tags = sorted(tags, key=lambda t: (dorder.get(t.partition("_")[2], 9), t))
    figures, rows = {}, []
    for tag in tags:
        dtype = tag.partition("_")[2]
        figures[tag] = tag_figures(d, tag, meta)
        rows += rows_for(figures[tag], dtype, fast)
    fast_all = [r["ratio"] for r in rows if r["target"].startswith("5 max") and r["ratio"] is not None]
    if len(tags) > 1 and fast:
        op, bound = GOALS["fast"]
        w = max(fast_all) if fast_all else None
        rows.append({"dtype": "all", "target": f"5 max {fast}/fixed", "unit": "", "sci_infer": None, "reference": None,
                     "ratio": w, "goal": f"{op} {bound:.2f}",
                     "result": "n/a" if w is None else "PASS" if w <= bound else "FAIL",
                     "note": "over every dtype", "reference_cfg": "all dtypes", "blank": True,
                     "other_load": max((r["other_load"] for r in rows if r["target"].startswith("5 max")
                                        and r["other_load"] is not None), default=None)})

    # Machine and settings.
    print("machine:  " + ", ".join(str(x) for x in (
        meta.get("cpu", "?"), f"nproc {meta.get('nproc', '?')}", f"threads/core {meta.get('threads_per_core', '?')}",
        f"{meta.get('memory_gib', '?')} GiB RAM", f"kernel {meta.get('kernel', '?')}")))
    print(f"load avg: start {meta.get('load_avg_start', '?')}, end {meta.get('load_avg_end', '?')}")
    print(f"sci_infer {meta.get('sci_infer_commit', '?')};  llama.cpp {meta.get('llama_cpp', '?')}")
    print(f"settings: preset {s.get('preset')}, {s.get('threads')} threads, {s.get('records')} records of "
          f"{s.get('prompt_tokens')}+{s.get('gen_tokens')} tokens, npl {s.get('npl')}, median of {s.get('reps')} reps"
          + (", QUICK (smoke run: not the issue-5 setting)" if s.get("quick") else ""))
    print()
    hdr = ("dtype", "target", "unit", "sci_infer", "llama.cpp/ref", "ratio", "goal", "result", "busy", "reference is")
    busy = lambda v: "" if v is None else f"{v:.0%}" + ("!" if v > 0.05 else "")
    cell = lambda r, k: "-" if r["blank"] and r[k] is None else fmt(r[k])
    table = [hdr] + [(r["dtype"], r["target"], r["unit"], cell(r, "sci_infer"), cell(r, "reference"),
                      "n/a" if r["ratio"] is None else f"{r['ratio']:.3f}", r["goal"], r["result"],
                      busy(r["other_load"]), r["reference_cfg"]) for r in rows]
    w = [max(len(row[i]) for row in table) for i in range(len(hdr))]
    right = {3, 4, 5, 8}
    prev = None
    for i, row in enumerate(table):
        if i > 1 and row[0] != prev:
            print()
        prev = row[0]
        print("  ".join(c.rjust(w[j]) if j in right else c.ljust(w[j]) for j, c in enumerate(row)).rstrip())
        if i == 0:
            print("  ".join("-" * x for x in w))
            prev = table[1][0] if len(table) > 1 else None
    counts = {k: sum(1 for r in rows if r["result"] == k) for k in ("PASS", "FAIL", "n/a")}
    print(f"\n{counts['PASS']} PASS, {counts['FAIL']} FAIL, {counts['n/a']} n/a")
    noisy = sorted((v, k) for f in figures.values() for k, v in f["foreign_load"].items() if v > 0.05)
    if noisy:
        print(f"\nWARNING: the machine was not idle: other processes used over 5% of its CPU during "
              f"{len(noisy)} run(s), worst {noisy[-1][0]:.0%} ({noisy[-1][1]}). Rows marked ! in 'busy' "
              f"(the largest such share over the runs behind the row) are not trustworthy; rerun on an idle "
              f"machine (per-run shares: summary.json, figures.<tag>.foreign_load).")
    print("""
ratio = sci_infer / reference (5: --gemm fast / fixed). Reference per row:
  1  llama-batched-bench -npp 128 -ntg 128 -npl N: best total S over N and -fa; sci_infer: (prompt +
     generated tokens) / wall seconds of the whole `sci-infer run` process (model load, output).
  2  llama-bench -n 128 tg (best -fa); bandwidth: sci_infer's (weights + F32 KV bytes read per
     token) x decode tok/s vs stream_read's best-pass GB/s (2 threads).
  3  llama-bench -p N pp (best -fa).
  4  /usr/bin/time %M of `sci-infer bench --batch 1 --prompt-tokens N --gen-tokens 0 --reps 1`
     vs `llama-bench -p N -n 0 -r 1 -fa 0|1` (the smaller); commands in commands.txt.
  5  the same sci_infer runs with the non-deterministic GEMM vs the default fixed-order one.
busy = the largest share of the machine's CPU that other processes used during any run behind the
row (from /proc/stat and the run's own user+sys time); ! = over 5%.""")
    with open(os.path.join(d, "summary.json"), "w") as fh:
        json.dump({"meta": meta, "rows": rows, "figures": figures, "counts": counts}, fh, indent=1)
    return 0


def main():
    argv = sys.argv[1:]
    if argv and argv[0] not in ("summarize", "make-input", "job-stats", "-h", "--help"):
        argv = ["summarize"] + argv
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("summarize")
    p.add_argument("dir")
    p = sub.add_parser("make-input")
    p.add_argument("output")
    p.add_argument("--records", type=int, required=True)
    p.add_argument("--prompt-tokens", type=int, default=128)
    p.add_argument("--vocab", type=int, required=True)
    p.add_argument("--seed", type=int, default=1)
    p = sub.add_parser("job-stats")
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--t0", required=True)
    p.add_argument("--t1", required=True)
    p.add_argument("--time-file")
    p.add_argument("--gemm", default="fixed")
    a = ap.parse_args(argv)
    if a.cmd == "make-input":
        return make_input(a)
    if a.cmd == "job-stats":
        return job_stats(a)
    return summarize(a.dir)


if __name__ == "__main__":
    sys.exit(main())
