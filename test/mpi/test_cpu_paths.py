"""The host kernel path is chosen at run time (SCI_INFER_CPU_PATH=auto|generic|avx2|avx512|avx512-vnni):
every path the CPU has gives the generic path's bits, and a path it lacks is refused before any work.
Which paths the CPU has is read from /proc/cpuinfo, independently of sci-infer; paths it lacks are
named in the output (they run automatically on a CPU that has them)."""
import os

import h5py

import numpy as np

from launcher_support import assert_same_results, main, sh

PATHS = ["generic", "avx2", "avx512", "avx512-vnni"]
TOKENS = "1,5,9,300,17,22,400,3,77,123,45,6,250,311,2,8,99,401,13,64,128,500,7,31,200,11,42,19,301,88,5,40,3,9"


def cpu_paths():
    """The paths this CPU can run, from the kernel's feature flags (which also hide what the OS does not enable)."""
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    have = ["generic"]
    if {"avx2", "fma", "f16c"} <= flags and os.uname().machine == "x86_64":
        have.append("avx2")
        if "avx512f" in flags:
            have.append("avx512")
            if "avx512_vnni" in flags:
                have.append("avx512-vnni")
    return have


def env_with(path):
    return dict(os.environ, SCI_INFER_CPU_PATH=path)


def case_cpu_paths_same_bits(c):
    have = cpu_paths()
    print("paths this CPU runs:", " ".join(have), "| not runnable here, not tested:",
          " ".join(p for p in PATHS if p not in have) or "none")
    assert len(have) > 1 or os.uname().machine != "x86_64", "an x86-64 CPU without AVX2: only generic to compare"
    for dt in ["f32", "f16", "bf16", "q8_0"]:
        model = c.path(f"m_{dt}.gguf")
        sh([c.bin, "make-model", "--preset", "tiny", "--dim", "128", "--heads", "4", "--kv-heads", "2", "--dtype", dt,
            "--seed", "5", "--context", "256", "--out", model])
        out = {}
        for p in have:
            f = c.path(f"logits_{dt}_{p}.f32")
            sh([c.bin, "logits", "-m", model, "--tokens", TOKENS, "--all-positions", "-t", "2", "-o", f], env=env_with(p))
            out[p] = np.fromfile(f, dtype="<f4")
        n_pos = len(TOKENS.split(","))
        ref = out["generic"]
        assert ref.size % n_pos == 0 and ref.size > n_pos and np.isfinite(ref).all(), ref.size
        for p in have[1:]:
            diff = np.flatnonzero(out[p].view("<u4") != ref.view("<u4"))
            assert out[p].size == ref.size and diff.size == 0, \
                f"{dt}: path {p} differs from generic at {diff.size} logits (positions {sorted(set(diff // (ref.size // n_pos)))[:10]})"
        print(f"{dt}: logits at all {n_pos} positions bitwise equal on", ", ".join(have))
    # A batch job records the path it ran on (provenance) and writes the same results on each.
    inp = c.make_input("in.h5", 6, emb=False)
    outs = {}
    for p in have:
        outs[p] = c.path(f"run_{p}.h5")
        sh([c.mpiexec, "-n", 1, c.bin, "run", "-m", c.path("m_q8_0.gguf"), "-i", inp, "-o", outs[p], "--max-new-tokens", 6,
            "--temperature", "0.7", "--seed", 2, "--progress-seconds", 60], env=env_with(p))
    for p in have:
        with h5py.File(outs[p]) as f:
            recorded = f.attrs["sci_infer.kernel_path"]
            recorded = recorded.decode() if isinstance(recorded, bytes) else recorded
            assert recorded == p, (p, recorded)
        assert_same_results(outs["generic"], outs[p], f"run on {p} vs generic")
    print("run (Q8_0, sampled): identical results on", ", ".join(have), "; each records its kernel path")


def case_verify_names_kernel_path(c):
    # An output written on another kernel path (as on another CPU) with a record that now differs:
    # verify names the recorded path and how to rerun on it. Its result must not depend on the path.
    inp = c.make_input("in.h5", 4, emb=False)
    out = c.path("out.h5")
    sh([c.mpiexec, "-n", 1, c.bin, "run", "-m", c.model, "-i", inp, "-o", out, "--max-new-tokens", 4,
        "--progress-seconds", 60], env=env_with("generic"))
    p = sh([c.bin, "verify", out], check=False)
    assert p.returncode == 0 and "0 different" in p.stdout, (p.returncode, p.stdout, p.stderr)  # auto path here
    with h5py.File(out, "r+") as f:
        f.attrs["sci_infer.kernel_path"] = "avx512-vnni"
        t = f["results/tokens"]
        first = np.array(t[0])
        first[0] = (first[0] + 1) % 500
        t[0] = first
    p = sh([c.bin, "verify", out], check=False)
    assert p.returncode == 1 and "1 different" in p.stdout, (p.returncode, p.stdout, p.stderr)
    assert "sci_infer.kernel_path avx512-vnni recorded" in p.stderr and \
        "rerun with SCI_INFER_CPU_PATH=avx512-vnni" in p.stderr, p.stderr
    print(p.stderr.strip().splitlines()[-1])


def case_cpu_path_refused(c):
    have = cpu_paths()
    lacking = [p for p in PATHS if p not in have]
    if not lacking:
        print("this CPU runs every host kernel path: only an unknown name can be refused here")
    out = c.path("never.f32")
    for p in lacking + ["sse9"]:
        r = sh([c.bin, "logits", "-m", c.model, "--tokens", "1,2,3", "-o", out], check=False, env=env_with(p))
        assert r.returncode == 2, (p, r.returncode, r.stderr)
        assert f"SCI_INFER_CPU_PATH={p}" in r.stderr and "available here: generic" in r.stderr, r.stderr
        if p != "sse9":
            assert f"the {p} kernels cannot be used" in r.stderr and "CPU features: " in r.stderr, r.stderr
        else:
            assert "unknown host kernel path" in r.stderr, r.stderr
        assert not os.path.exists(out), "refused, but wrote logits"
        print(f"SCI_INFER_CPU_PATH={p}: refused, exit 2:", r.stderr.strip().splitlines()[-1])
    # A batch job under mpiexec is refused on every rank before it writes anything.
    inp = c.make_input("in.h5", 4, emb=False)
    job = c.path("job.h5")
    bad = lacking[0] if lacking else "sse9"
    r = sh([c.mpiexec, "-n", 2, c.bin, "run", "-m", c.model, "-i", inp, "-o", job, "--max-new-tokens", 2],
           check=False, env=env_with(bad))
    assert r.returncode == 2 and f"SCI_INFER_CPU_PATH={bad}" in r.stderr, (r.returncode, r.stderr)
    assert not os.path.exists(job) and not os.path.exists(job + ".journal"), "refused job left files"


if __name__ == "__main__":
    main({n[5:]: f for n, f in dict(globals()).items() if n.startswith("case_")})
