#!/usr/bin/env python3
"""Writes an example sci-infer input file: /prompts (variable-length UTF-8) and, optionally,
/embeddings [N, T, d_model] float32 with /embedding_lengths, per-record /seeds and
/max_new_tokens. Chunked and gzip-compressed, as large production inputs are.

    /usr/bin/python3 examples/make_example_input.py out.h5 --records 1000 [--d-model 288 --embedding-rows 4]
    /usr/bin/python3 examples/make_example_input.py out.h5 --prompts-file openings.txt [--max-new-tokens 48]

--prompts-file takes the prompts from a text file, one per line (blank lines skipped), in order,
repeated to fill --records (default: one record per line).
"""
import argparse

import h5py
import numpy as np

WORDS = ("the ocean model predicts temperature salinity and current fields over the arctic basin "
         "while the climate ensemble samples aerosol forcing in each member run of the simulation").split()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("output")
    ap.add_argument("--records", type=int, default=0, help="records (default 64, or one per --prompts-file line)")
    ap.add_argument("--prompts-file", help="prompts, one per line, instead of random words")
    ap.add_argument("--max-new-tokens", type=int, default=0,
                    help="the same /max_new_tokens for every record (default: random 4..32)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--d-model", type=int, default=0, help="add /embeddings of this width (the model's dim)")
    ap.add_argument("--embedding-rows", type=int, default=4)
    ap.add_argument("--max-words", type=int, default=24)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    if args.prompts_file:
        with open(args.prompts_file, encoding="utf-8") as f:
            lines = [l.strip() for l in f if l.strip()]
        if not lines:
            raise SystemExit(f"{args.prompts_file}: no prompts (every line is blank)")
        n = args.records or len(lines)
        prompts = [lines[i % len(lines)] for i in range(n)]
    else:
        n = args.records or 64
        prompts = [" ".join(rng.choice(WORDS, size=rng.integers(1, args.max_words + 1))) for _ in range(n)]
    chunk = (min(n, 4096),)
    with h5py.File(args.output, "w") as f:
        f.create_dataset("prompts", data=prompts, dtype=h5py.string_dtype("utf-8"), chunks=chunk, compression="gzip")
        f.create_dataset("seeds", data=np.arange(n, dtype=np.uint64) * 7919 + 1, chunks=chunk, compression="gzip")
        mnt = np.full(n, args.max_new_tokens) if args.max_new_tokens else rng.integers(4, 33, size=n)
        f.create_dataset("max_new_tokens", data=mnt.astype(np.int32), chunks=chunk)
        if args.d_model:
            t = args.embedding_rows
            emb = (rng.standard_normal((n, t, args.d_model)) * 0.5).astype(np.float32)
            f.create_dataset("embeddings", data=emb, chunks=(min(n, 256), t, args.d_model), compression="gzip")
            f.create_dataset("embedding_lengths", data=rng.integers(0, t + 1, size=n).astype(np.int32), chunks=chunk)
    print(f"wrote {args.output}: {n} records" + (f", embeddings [{n}, {args.embedding_rows}, {args.d_model}]" if args.d_model else ""))


if __name__ == "__main__":
    main()
