#!/usr/bin/env python3
"""Communication model of sci_infer's tensor parallelism, for docs/scaling.md.

    benchmarks/tp_comm_model.py            # prints the tables of docs/scaling.md

Per decode step of a tensor-parallel group with B sequences (one token each):
  weights: every rank streams its 1/tp of the weights once:   t_w = W / (tp * HBM)
  row-parallel sums: 2 per layer, each of B*dim float32 values; the deterministic reduction
    (all-to-all by column block + fixed-order sum + all-gather) and a ring all-reduce both move
    2 (tp-1)/tp of it per rank, in 2 (tp-1) latency-bound steps:
        t_sum = 2 L [ 2 (tp-1) alpha + 2 (tp-1)/tp * 4 B dim / beta ]
  logits gather: (tp-1)/tp * 4 B V bytes in (tp-1) steps; embedding rows: (tp-1)/tp * 4 B dim.
The check against this machine: 100m (dim 768, 12 layers, vocab 32000) at tp 2 predicts
2*12*768*4*1 + 32000*4/2 + 768*4/2 = 139.3 KB received per token; bench_tp.sh measured 136.2 KiB
(139.4 KB).
"""

MODELS = {  # name: (weights bytes bf16, dim, layers, vocab)
    "Llama-3-8B": (16.1e9, 4096, 32, 128256),
    "Llama-3-70B": (141e9, 8192, 80, 128256),
}
# (name, HBM bytes/s per rank, intra-node beta bytes/s, intra alpha s, inter-node beta, inter alpha, ranks/node)
SYSTEMS = [
    ("Aurora (PVC tile)", 1.6e12, 100e9, 5e-6, 25e9, 10e-6, 12),
    ("Sophia (A100 80GB)", 2.0e12, 250e9, 4e-6, 25e9, 8e-6, 8),
]


def step_times(model, system, tp, batch):
    w, dim, layers, vocab = MODELS[model]
    _, hbm, b_in, a_in, b_out, a_out, per_node = system
    beta, alpha = (b_in, a_in) if tp <= per_node else (b_out, a_out)
    t_w = w / (tp * hbm)
    if tp == 1:
        return t_w, 0.0
    frac = (tp - 1) / tp
    t_sum = 2 * layers * (2 * (tp - 1) * alpha + 2 * frac * 4 * batch * dim / beta)
    t_logits = (tp - 1) * alpha + frac * 4 * batch * vocab / beta
    t_emb = (tp - 1) * alpha + frac * 4 * batch * dim / beta
    return t_w, t_sum + t_logits + t_emb


def main():
    for model in MODELS:
        for system in SYSTEMS:
            print(f"\n{model} on {system[0]}: decode step time in ms (weights + communication), B = sequences per group")
            print(f"{'tp':>4} " + " ".join(f"{'B=' + str(b):>18}" for b in (1, 16, 64)))
            for tp in (1, 2, 4, 8, 16, 32):
                if MODELS[model][0] / tp > 64e9:  # does not fit one rank's memory
                    print(f"{tp:>4} " + " ".join(f"{'(does not fit)':>18}" for _ in range(3)))
                    continue
                cells = []
                for b in (1, 16, 64):
                    t_w, t_c = step_times(model, system, tp, b)
                    cells.append(f"{1e3 * (t_w + t_c):7.2f} ({1e3 * t_c:5.2f} comm)")
                print(f"{tp:>4} " + " ".join(f"{c:>18}" for c in cells))


if __name__ == "__main__":
    main()
