#!/usr/bin/python3
"""Checks sci_infer output files against docs/hdf5-schema.md, reading them with h5py the way
users do. Usage: check_output_schema.py OUT.h5 [OUT.h5 ...]; exit status 1 on any violation."""
import sys

import h5py
import numpy as np

VLEN_STRINGS = ("text", "finish_reason", "error")
FINISH_VALUES = {"", "stop", "length", "error"}
STATUS_VALUES = {-1, 0, 1, 2}
STRING_ATTRS = ("sci_infer.version", "sci_infer.git_commit", "sci_infer.model_path",
                "sci_infer.model_sha256", "sci_infer.model_metadata", "sci_infer.config",
                "sci_infer.task", "sci_infer.hostnames", "sci_infer.start_time",
                "sci_infer.end_time")
INT_ATTRS = ("sci_infer.seed", "sci_infer.n_ranks")


def check(path):
    problems = []

    def need(ok, what):
        if not ok:
            problems.append(f"{path}: {what}")

    with h5py.File(path, "r") as f:
        r = f["results"]
        n = r["status"].shape[0]
        need(r["status"].dtype == np.int32, f"/results/status dtype {r['status'].dtype}")
        for name in VLEN_STRINGS:
            info = h5py.check_string_dtype(r[name].dtype)
            need(info is not None and info.encoding == "utf-8" and info.length is None,
                 f"/results/{name} is not a variable-length UTF-8 string")
        need(h5py.check_vlen_dtype(r["tokens"].dtype) == np.int32, "/results/tokens not vlen int32")
        need(h5py.check_vlen_dtype(r["logprobs"].dtype) == np.float32,
             "/results/logprobs not vlen float32")
        for name in ("tokens", "logprobs", "text", "finish_reason", "error"):
            need(r[name].shape == (n,), f"/results/{name} shape {r[name].shape} != ({n},)")

        status = r["status"][:]
        need(set(np.unique(status).tolist()) <= STATUS_VALUES, f"status values {np.unique(status)}")
        finish = r["finish_reason"].asstr()[:]
        need(set(finish.tolist()) <= FINISH_VALUES, f"finish_reason values {set(finish)}")
        text, error = r["text"].asstr()[:], r["error"].asstr()[:]
        tokens, logprobs = r["tokens"][:], r["logprobs"][:]
        for i in np.flatnonzero(status == -1):
            need(text[i] == "" and error[i] == "" and finish[i] == "" and len(tokens[i]) == 0
                 and len(logprobs[i]) == 0, f"pending record {i} has values")
        for i in np.flatnonzero(status > 0):
            need(error[i] != "", f"failed record {i} has no error text")

        if "embeddings" in r:
            e = r["embeddings"]
            need(e.dtype == np.float32 and e.ndim == 2 and e.shape[0] == n,
                 f"/results/embeddings {e.dtype} {e.shape}")
            need(isinstance(e.attrs.get("pooling"), str), "/results/embeddings has no pooling attr")
            rows = e[:]
            for i in np.flatnonzero(status == -1):
                need(np.isnan(rows[i]).all(), f"pending embedding row {i} is not NaN")
            for i in np.flatnonzero(status == 0):
                need(np.isfinite(rows[i]).all(), f"embedding row {i} of an ok record not finite")

        for name in STRING_ATTRS:
            if name in f.attrs:
                need(isinstance(f.attrs[name], str), f"attribute {name} is not a string")
        for name in INT_ATTRS:
            if name in f.attrs:
                need(f.attrs[name].dtype == np.int64, f"attribute {name} is not int64")
        if "sci_infer.task" in f.attrs and "embeddings" in r:
            need(f.attrs["sci_infer.task"] == "embed",
                 "sci_infer.task is not embed although /results/embeddings exists")
    return problems


def main(paths):
    problems = [p for path in paths for p in check(path)]
    for p in problems:
        print(p, file=sys.stderr)
    print(f"checked {len(paths)} file(s): {'FAILED' if problems else 'ok'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]) if len(sys.argv) > 1 else 2)
