// quant_probe: the library's dequantization and quantized GEMM on bytes that a Python test
// made (test/quant/check_quant_kernels.py judges the results against gguf-py and numpy).
//
//   quant_probe dequant TYPE N IN OUT
//       decode_row of N elements of TYPE from IN (raw blocks) -> OUT (float32)
//   quant_probe gemm TYPES NOUTS K M CHUNKS THREADS W X OUT
//       fused weight of parts TYPES (comma-separated) with NOUTS rows each, K columns, from W
//       (the parts' rows, dense, one after another); X: M x K float32; OUT: M x N float32 from
//       the default backend with CHUNKS K-chunks and THREADS threads. Also checks, bit for bit,
//       that every row computed alone and with 1 thread gives the same result (exit 1 if not).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/linear.hpp"
#include "sci_infer/error.hpp"
#include "sci_infer/tensor_types.hpp"

using namespace sci_infer;

namespace {

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot read " + path);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const void* p, size_t n) {
  std::ofstream f(path, std::ios::binary);
  f.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
  if (!f) throw Error("cannot write " + path);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
  return out;
}

int dequant(char** a) {
  const GgmlType t = ggml_type_from_name(a[0]);
  const uint64_t n = std::stoull(a[1]);
  const std::vector<uint8_t> in = read_file(a[2]);
  if (in.size() != ggml_row_bytes(t, n)) throw Error("input has the wrong size");
  std::vector<float> out(n);
  decode_row(t, in.data(), out.data(), n);
  write_file(a[3], out.data(), out.size() * 4);
  return 0;
}

int gemm(char** a) {
  const std::vector<std::string> types = split(a[0]), nouts = split(a[1]);
  const int64_t k = std::stoll(a[2]), m = std::stoll(a[3]);
  const int chunks = std::stoi(a[4]), threads = std::stoi(a[5]);
  const std::vector<uint8_t> w = read_file(a[6]);
  const std::vector<uint8_t> xb = read_file(a[7]);
  if (types.size() != nouts.size()) throw Error("TYPES and NOUTS differ in length");
  std::vector<WeightView> parts;
  size_t off = 0;
  int64_t n = 0;
  for (size_t p = 0; p < types.size(); ++p) {
    WeightView v;
    v.name = "part" + std::to_string(p) + "." + types[p];
    v.type = ggml_type_from_name(types[p]);
    v.n_in = k;
    v.n_out = std::stoll(nouts[p]);
    v.data = w.data() + off;
    off += v.stride() * size_t(v.n_out);
    n += v.n_out;
    parts.push_back(v);
  }
  if (off != w.size()) throw Error("weight file has the wrong size");
  if (xb.size() != size_t(m * k) * 4) throw Error("activation file has the wrong size");
  const float* x = reinterpret_cast<const float*>(xb.data());
  auto lin = make_linear(GemmBackend::FixedOrder, parts.data(), int(parts.size()), threads, chunks);
  std::vector<float> y(static_cast<size_t>(m * n)), y1(y.size()), yrow(static_cast<size_t>(n));
  lin->forward(x, m, k, y.data(), n);
  auto lin1 = make_linear(GemmBackend::FixedOrder, parts.data(), int(parts.size()), 1, chunks);
  lin1->forward(x, m, k, y1.data(), n);
  if (std::memcmp(y.data(), y1.data(), y.size() * 4) != 0) {
    std::cerr << "FAIL: " << threads << " threads and 1 thread differ\n";
    return 1;
  }
  for (int64_t i = 0; i < m; ++i) {
    lin->forward(x + i * k, 1, k, yrow.data(), n);
    if (std::memcmp(yrow.data(), y.data() + i * n, size_t(n) * 4) != 0) {
      std::cerr << "FAIL: row " << i << " alone differs from the batch of " << m << "\n";
      return 1;
    }
  }
  write_file(a[8], y.data(), y.size() * 4);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "dequant" && argc == 6) return dequant(argv + 2);
    if (cmd == "gemm" && argc == 11) return gemm(argv + 2);
    std::cerr << "usage: quant_probe dequant TYPE N IN OUT | gemm TYPES NOUTS K M CHUNKS THREADS W X OUT\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 3;
  }
}
