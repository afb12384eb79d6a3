"""The per-instruction-set objects (lib/kernels/cpu_avx*.cpp, compiled with -mavx2 / -mavx512f ...)
must define no symbol the linker could pick instead of another file's copy: an inline function or
template instantiation emitted there as a weak symbol may be kept for the whole program, and then
the generic path would run AVX-512 code on a CPU without it. Allowed: each file's entry points,
and names in its anonymous namespace (local with g++; nvcc makes them global but in a namespace
named after the file, _GLOBAL__N__<hash>_<file>, which no other object shares).
Usage: check_isa_objects.py NM OBJECT..."""
import subprocess
import sys

ENTRY = {"panel_block_avx2", "q8_block_avx2", "panel_block_avx512", "q8_block_avx512_vnni"}
nm = sys.argv[1]
objects = [o for arg in sys.argv[2:] for o in arg.split(";") if "/cpu_avx" in o]  # CMake passes a ;-list
assert len(objects) == 3, f"expected the three cpu_avx*.cpp objects, got {objects}"
bad = []
for obj in objects:
    out = subprocess.run([nm, "-C", "--defined-only", obj], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) < 3 or parts[1].islower():  # local symbols cannot be shared
            continue
        name = parts[2]
        if not any(name.startswith(f"sci_infer::{e}(") for e in ENTRY) and \
                not name.startswith("sci_infer::(anonymous namespace)::") and \
                not name.startswith("void sci_infer::(anonymous namespace)::"):
            bad.append(f"{obj.rsplit('/', 1)[-1]}: {parts[1]} {name}")
    if not bad:
        print(obj.rsplit("/", 1)[-1], "defines only its entry points")
if bad:
    print("per-ISA objects export symbols other objects may share (keep them file-local):\n  " + "\n  ".join(bad))
    sys.exit(1)
