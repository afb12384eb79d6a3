#!/usr/bin/env python3
"""convert.py ARGS... - runs llama.cpp's convert_hf_to_gguf.py (under $PEER_DIR/llama.cpp) with
Debian's python3-torch 1.13, which predates the float8 dtypes the converter names in its dtype
tables: they get stand-in objects that no real tensor dtype equals (our checkpoints hold none),
and test/hf/stub provides the one transformers name it imports. Nothing else is changed."""
import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
peer = os.path.join(os.environ.get("PEER_DIR", "/tmp/peer"), "llama.cpp")
sys.path[:0] = [os.path.join(HERE, "stub"), peer, os.path.join(peer, "gguf-py")]

import torch  # noqa: E402

for name in ("float8_e4m3fn", "float8_e5m2", "float8_e8m0fnu", "uint16", "uint32", "uint64"):
    if not hasattr(torch, name):
        setattr(torch, name, type(name, (), {})())  # a unique, never-matching stand-in

script = os.path.join(peer, "convert_hf_to_gguf.py")
sys.argv = [script] + sys.argv[1:]
runpy.run_path(script, run_name="__main__")
