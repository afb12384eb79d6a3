// Backend selection for linear layers, and the names used on the command line.
#include "kernels/linear.hpp"

#include "kernels/device_space.hpp"

#include "sci_infer/error.hpp"

namespace sci_infer {

const char* gemm_backend_name(GemmBackend b) {
  switch (b) {
    case GemmBackend::FixedOrder: return "fixed";
    case GemmBackend::Kokkos: return "kokkos";
    case GemmBackend::OneDnn: return "onednn";
    case GemmBackend::Cublas: return "cublas";
  }
  return "?";
}

GemmBackend gemm_backend_from_name(const std::string& name) {
  if (name == "fixed") return GemmBackend::FixedOrder;
  if (name == "kokkos") return GemmBackend::Kokkos;
  if (name == "onednn") return GemmBackend::OneDnn;
  if (name == "cublas") return GemmBackend::Cublas;
  throw Error("unknown GEMM backend '" + name + "' (fixed, kokkos, onednn, cublas)");
}

const char* reduction_name(Reduction r) { return r == Reduction::Deterministic ? "deterministic" : "fast"; }

Reduction reduction_from_name(const std::string& name) {
  if (name == "deterministic") return Reduction::Deterministic;
  if (name == "fast") return Reduction::Fast;
  throw Error("unknown reduction '" + name + "' (deterministic, fast)");
}

void check_k_chunks(const std::string& name, int64_t k, int c) {
  if (c < 1 || c > 64 || (c & (c - 1)) != 0 || k % c != 0)
    throw Error(name + ": K-chunk count " + std::to_string(c) + " must be a power of two (at most 64) dividing K = " +
                std::to_string(k));
}

bool all_parts_of_type(const WeightView* parts, int n_parts, GgmlType t) {
  for (int p = 0; p < n_parts; ++p)
    if (parts[p].type != t) return false;
  return true;
}

namespace {

// The fixed-order backend: one type, F32/F16/BF16 (FMA chains) or Q8_0 (its VNNI kernel), goes to
// the tuned kernels; every other quantized type, and parts of mixed types, to the registry's
// integer dot kernels. The Q8_0 and float arithmetic is the same in both, so a part's bits do not
// depend on which kernel runs it.
std::unique_ptr<Linear> make_fixed(const WeightView* parts, int n_parts, int n_threads, int k_chunks,
                                   WeightArena* arena) {
  const GgmlType t = parts[0].type;
  const bool tuned = all_parts_of_type(parts, n_parts, t) && (t == GgmlType::Q8_0 || !ggml_type_quantized(t));
  if (tuned) return make_linear_fixed_order(parts, n_parts, n_threads, k_chunks, arena);
  return make_linear_quant(parts, n_parts, n_threads, k_chunks, arena);
}

}  // namespace

std::unique_ptr<Linear> make_linear(GemmBackend backend, const WeightView* parts, int n_parts,
                                    int n_threads, int k_chunks, WeightArena* arena) {
  switch (backend) {
    case GemmBackend::FixedOrder:
      // On a device backend the fixed order runs as the Kokkos tiled kernel: the same bits.
      if (device_backend()) return make_linear_kokkos(parts, n_parts, k_chunks);
      return make_fixed(parts, n_parts, n_threads, k_chunks, arena);
    case GemmBackend::Kokkos: return make_linear_kokkos(parts, n_parts, k_chunks);
    case GemmBackend::OneDnn: return make_linear_onednn(parts, n_parts);
    case GemmBackend::Cublas:
#if defined(SCI_INFER_HAVE_CUDA)
      return make_linear_cublas(parts, n_parts);
#else
      throw Error("this build of sci_infer has no CUDA support (configure with -DSCI_INFER_CUDA=ON)");
#endif
  }
  throw Error("unknown GEMM backend");
}

}  // namespace sci_infer
