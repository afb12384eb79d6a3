"""gguf_min.py - a small GGUF v3 reader in pure Python + numpy, independent of sci_infer.

It exists so that the numerical tests check the engine against code that shares nothing with it:
header, metadata and tensor table are parsed here from the byte layout in ggml's gguf.md, and the
tensor data are decoded with numpy.

    g = GGUFFile("model.gguf")
    g.metadata["llama.block_count"]         # int / float / bool / str / list
    g.tensors["blk.0.attn_q.weight"].ne     # ggml order: ne[0] is the contiguous dimension
    w = g.array("blk.0.attn_q.weight")      # float64, numpy order: shape = reversed(ne)

Supported tensor types: F32 (0), F16 (1), Q8_0 (8), BF16 (30).
"""
import struct
from dataclasses import dataclass

import numpy as np

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

# Metadata value types (gguf.md): scalar types map to struct codes.
_SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
T_STRING, T_ARRAY = 8, 9
# Same element types as numpy dtypes, used to read big numeric arrays (vocab scores) in one go.
_SCALAR_NP = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "<u1",
              10: "<u8", 11: "<i8", 12: "<f8"}

# Tensor types: name, elements per block, bytes per block.
GGML_F32, GGML_F16, GGML_Q8_0, GGML_BF16 = 0, 1, 8, 30
TYPE_INFO = {GGML_F32: ("F32", 1, 4), GGML_F16: ("F16", 1, 2),
             GGML_Q8_0: ("Q8_0", 32, 34), GGML_BF16: ("BF16", 1, 2)}


@dataclass
class TensorInfo:
    name: str
    ne: tuple        # ggml order, ne[0] contiguous
    type: int
    offset: int      # relative to the start of the data section

    @property
    def n_elements(self):
        n = 1
        for d in self.ne:
            n *= d
        return n

    @property
    def n_bytes(self):
        _, blk, nbytes = TYPE_INFO[self.type]
        if self.ne and self.ne[0] % blk:
            raise ValueError(f"{self.name}: ne[0]={self.ne[0]} not a multiple of block size {blk}")
        return self.n_elements // blk * nbytes


class _Cursor:
    """Sequential little-endian reads over a bytes-like buffer."""

    def __init__(self, buf):
        self.buf, self.pos = buf, 0

    def read(self, fmt):
        vals = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals[0] if len(vals) == 1 else vals

    def string(self):
        n = self.read("Q")
        s = bytes(self.buf[self.pos:self.pos + n])
        if len(s) != n:
            raise ValueError("truncated string")
        self.pos += n
        return s.decode("utf-8", errors="surrogateescape")

    def value(self, vtype):
        if vtype in _SCALAR:
            return self.read(_SCALAR[vtype])
        if vtype == T_STRING:
            return self.string()
        if vtype == T_ARRAY:
            etype, n = self.read("IQ")
            if etype in _SCALAR_NP:   # numeric array: one numpy read instead of n struct calls
                dt = np.dtype(_SCALAR_NP[etype])
                arr = np.frombuffer(self.buf, dtype=dt, count=n, offset=self.pos)
                self.pos += n * dt.itemsize
                return (arr != 0).tolist() if etype == 7 else arr.tolist()
            return [self.value(etype) for _ in range(n)]
        raise ValueError(f"unknown GGUF metadata value type {vtype}")


class GGUFFile:
    def __init__(self, path):
        self.path = path
        self.mm = np.memmap(path, dtype=np.uint8, mode="r")
        buf = memoryview(self.mm)
        c = _Cursor(buf)
        if bytes(buf[:4]) != GGUF_MAGIC:
            raise ValueError(f"{path}: not a GGUF file")
        c.pos = 4
        self.version = c.read("I")
        if self.version != 3:
            raise ValueError(f"{path}: GGUF version {self.version}, only v3 supported")
        n_tensors, n_kv = c.read("QQ")

        self.metadata = {}
        self.metadata_types = {}
        for _ in range(n_kv):
            key = c.string()
            vtype = c.read("I")
            self.metadata[key] = c.value(vtype)
            self.metadata_types[key] = vtype

        self.tensors = {}
        for _ in range(n_tensors):
            name = c.string()
            n_dims = c.read("I")
            ne = tuple(c.read("Q") for _ in range(n_dims))
            ttype, offset = c.read("IQ")
            self.tensors[name] = TensorInfo(name, ne, ttype, offset)

        # The data section starts at the next multiple of general.alignment after the tensor table;
        # each tensor's offset is relative to it (and itself aligned).
        self.alignment = int(self.metadata.get("general.alignment", DEFAULT_ALIGNMENT))
        self.data_offset = (c.pos + self.alignment - 1) // self.alignment * self.alignment
        for t in self.tensors.values():
            if t.type not in TYPE_INFO:
                continue   # listed but not decodable here; array() raises if asked
            end = self.data_offset + t.offset + t.n_bytes
            if end > len(self.mm):
                raise ValueError(f"{t.name}: data past end of file ({end} > {len(self.mm)})")

    def raw(self, name):
        """The tensor's bytes as a uint8 view into the memory map."""
        t = self.tensors[name]
        start = self.data_offset + t.offset
        return self.mm[start:start + t.n_bytes]

    def array(self, name):
        """Decode tensor `name` to float64, shaped numpy-style (reversed ne)."""
        t = self.tensors[name]
        if t.type not in TYPE_INFO:
            raise ValueError(f"{name}: unsupported tensor type {t.type}")
        raw = self.raw(name)
        if t.type == GGML_F32:
            flat = raw.view("<f4").astype(np.float64)
        elif t.type == GGML_F16:
            flat = raw.view("<f2").astype(np.float64)
        elif t.type == GGML_BF16:
            # bf16 is the top half of an IEEE float32.
            flat = (raw.view("<u2").astype(np.uint32) << 16).view("<f4").astype(np.float64)
        else:  # Q8_0: per block of 32 values, fp16 scale d then 32 int8 q; x = d * q
            blocks = np.asarray(raw).reshape(-1, 34)
            d = blocks[:, :2].copy().view("<f2").astype(np.float64)        # (n_blocks, 1)
            q = blocks[:, 2:].view(np.int8).astype(np.float64)             # (n_blocks, 32)
            flat = (d * q).reshape(-1)
        return flat.reshape(tuple(reversed(t.ne)) if t.ne else ())


def type_name(ttype):
    return TYPE_INFO.get(ttype, (f"type{ttype}",))[0]


if __name__ == "__main__":
    import sys
    g = GGUFFile(sys.argv[1])
    print(f"GGUF v{g.version}: {len(g.metadata)} keys, {len(g.tensors)} tensors, "
          f"alignment {g.alignment}, data at {g.data_offset}")
    for k, v in g.metadata.items():
        s = repr(v)
        print(f"  {k} = {s[:100] + '...' if len(s) > 100 else s}")
    for t in g.tensors.values():
        print(f"  {t.name:32s} {type_name(t.type):5s} ne={list(t.ne)}")
