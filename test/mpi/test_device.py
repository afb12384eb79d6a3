"""Where the kernels run: `sci-infer --version` and the output's provenance name the build's Kokkos
(version from the Kokkos package CMake found, not from sci-infer) and the device; --device and
SCI_INFER_DEVICE are checked before any work (exit 2, nothing written); on a host-only build an
index is accepted and recorded as "host", with the same bits as without it.

Cases: version | bad_device | device_recorded"""
import os
import re

import h5py

from launcher_support import assert_same_results, main, sh

HOST_SPACES = ("Serial", "OpenMP", "Threads")


def build_kokkos_version(binary):
    """The Kokkos version of the package the build configured against: its CMake package file."""
    d = os.path.dirname(os.path.abspath(binary))
    while d != "/" and not os.path.exists(os.path.join(d, "CMakeCache.txt")):
        d = os.path.dirname(d)
    cache = open(os.path.join(d, "CMakeCache.txt")).read()
    kdir = re.search(r"^Kokkos_DIR:PATH=(.*)$", cache, re.M).group(1)
    text = open(os.path.join(kdir, "KokkosConfigVersion.cmake")).read()
    parts = re.search(r'set\(PACKAGE_VERSION "([0-9.]+)"\)', text).group(1).split(".")
    return ".".join(str(int(p)) for p in parts)  # "3.4.01" -> "3.4.1", as KOKKOS_VERSION says


def kokkos_line(c):
    p = sh([c.bin, "--version"])
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("sci-infer "), p.stdout
    return lines[1]


def case_version(c):
    line = kokkos_line(c)
    m = re.fullmatch(r"Kokkos (\d+\.\d+\.\d+) (\w+)/(\w+)", line)
    assert m, f"--version's Kokkos line {line!r}"
    want = build_kokkos_version(c.bin)
    assert m.group(1) == want, f"--version says Kokkos {m.group(1)}, the build configured against {want}"
    exec_space, mem_space = m.group(2), m.group(3)
    if exec_space in HOST_SPACES:
        assert mem_space == "HostSpace", line
    else:
        assert mem_space.endswith("Space") and mem_space != "HostSpace", line
    print(f"--version: {line} (package {want})")


def case_bad_device(c):
    inp = c.make_input("in.h5", 4)
    for args, env, word in ((["--device", "abc"], {}, "--device"), (["--device", "-1"], {}, "--device"),
                            (["--device", "1.5"], {}, "--device"), ([], {"SCI_INFER_DEVICE": "first"}, "SCI_INFER_DEVICE")):
        out = c.path("bad.h5")
        p = sh([c.mpiexec, "-n", "1", c.bin, "run", "-m", c.model, "-i", inp, "-o", out, *args], check=False,
               env={**os.environ, **env})
        assert p.returncode == 2, (args, env, p.returncode, p.stderr)
        assert word in p.stderr and "not a device" in p.stderr, (args, env, p.stderr)
        assert not os.path.exists(out) and not os.path.exists(out + ".journal"), (args, env)
    # The one-process commands check it too, before opening the model.
    p = sh([c.bin, "logits", "-m", c.path("no-such-model.gguf"), "--tokens", "1,2", "--device", "x"], check=False)
    assert p.returncode == 2 and "not a device" in p.stderr and "no-such-model" not in p.stderr, p.stderr
    print("bad --device / SCI_INFER_DEVICE values refused with exit 2 before any work")


def case_device_recorded(c):
    line = kokkos_line(c)
    on_host = line.split()[2].split("/")[0] in HOST_SPACES
    if not on_host:
        print(f"SKIPPED the host-build part: this build runs on a device ({line}); benchmarks/device_check.sh checks it")
        return
    inp = c.make_input("in.h5", 6)
    gen = ["--max-new-tokens", "3"]
    c.run(2, inp, c.path("plain.h5"), *gen)
    c.run(2, inp, c.path("dev.h5"), *gen, "--device", "3")
    sh([c.mpiexec, "-n", "2", "env", "SCI_INFER_DEVICE=gpu", c.bin, "run", "-m", c.model, "-i", inp, "-o",
        c.path("env.h5"), *gen])
    for name in ("plain.h5", "dev.h5", "env.h5"):
        with h5py.File(c.path(name)) as f:
            attrs = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in f.attrs.items()}
        assert attrs.get("sci_infer.device") == "host", (name, attrs.get("sci_infer.device"))
        assert attrs.get("sci_infer.kokkos") == line, (name, attrs.get("sci_infer.kokkos"), line)
    assert_same_results(c.path("plain.h5"), c.path("dev.h5"), "--device 3 on a host build vs none")
    assert_same_results(c.path("plain.h5"), c.path("env.h5"), "SCI_INFER_DEVICE=gpu on a host build vs none")
    print(f"host build: --device 3 and SCI_INFER_DEVICE=gpu recorded as 'host', {line}, same bits")


if __name__ == "__main__":
    main({n[5:]: f for n, f in dict(globals()).items() if n.startswith("case_")})
