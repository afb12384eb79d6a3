// --gemm cublas: the fast mode, cuBLASLt on tensor cores (built with -DSCI_INFER_CUDA=ON).
//
// Y[M,N] = X[M,K] W^T is computed column-major as Y^T[N,M] = W[N,K] · X^T[K,M]: W (row-major
// [N][K]) is the column-major K x N matrix A, used transposed (TRANSA = T); X (row-major, stride
// ldx) is the column-major K x M matrix B; Y (stride ldy) is the column-major N x M matrix D.
//
// Math (SCI_INFER_CUBLAS_MATH, read once per layer at load): "tf32" (default; F32 operands
// rounded to TF32 inside the tensor cores, F32 accumulation) or "bf16" (weights stored as BF16,
// activations rounded to BF16 by a small kernel into a persistent buffer; F32 accumulation).
//
// Batch invariance on one GPU model (docs/reproducibility.md "Fast mode"): cuBLAS' own choice of
// kernel depends on M, and another kernel sums over k in another order. So each layer pins ONE
// algorithm at load, for every M: the heuristic is asked once, for a fixed reference shape
// (M = kReferenceM), its candidates are read back, and the first one that splits K in one part
// with no reduction scheme (no split-K, no stream-K-style partial tiles combined afterwards) and
// passes cublasLtMatmulAlgoCheck at M = 1 and M = kMaxCheckedM is re-created with
// cublasLtMatmulAlgoInit and its configuration. Every forward() runs that algorithm, with a fixed
// user workspace (kWorkspaceBytes), on the legacy default stream. An output row's reduction order
// then depends on K, N, the algorithm and the GPU only: the same bits at every M, every run,
// given the same GPU model (architecture and SM count) and the same cuBLASLt version. Both are
// recorded in the output's provenance (cublas_gemm_provenance()).
//
// No per-call synchronisation or allocation: the legacy default stream orders this GEMM after
// the Kokkos kernels that wrote X and before those that read Y (Kokkos' CUDA streams are
// blocking streams); host callers are staged through grow-only device buffers.
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cublas_gemm_info.hpp"
#include "kernels/linear.hpp"
#include "kernels/weight_decode.hpp"
#include "sci_infer/error.hpp"

namespace sci_infer {
namespace {

constexpr int64_t kReferenceM = 256;          // the shape the one algorithm is chosen for
constexpr int64_t kMaxCheckedM = 1 << 16;     // the algorithm must also pass the check here
constexpr size_t kWorkspaceBytes = 32u << 20; // fixed: the heuristic's and every call's limit
constexpr int kCandidates = 16;

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}
void check_lt(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw Error(std::string("cuBLASLt error in ") + what + ": status " + std::to_string(int(s)));
}

enum class Math { Tf32, Bf16 };

Math math_from_environment() {
  const char* v = std::getenv("SCI_INFER_CUBLAS_MATH");
  if (v == nullptr || *v == '\0' || std::string(v) == "tf32") return Math::Tf32;
  if (std::string(v) == "bf16") return Math::Bf16;
  throw Error(std::string("SCI_INFER_CUBLAS_MATH=") + v + ": must be tf32 or bf16");
}

// The algorithm's configuration, as read back from cuBLASLt (and recorded in provenance).
struct AlgoConfig {
  int32_t id = 0, splitk = 1;
  uint32_t tile = 0, stages = 0, reduction = 0, swizzle = 0, custom = 0;
  uint16_t inner = 0, cluster = 0;
  std::string text() const {
    std::ostringstream s;
    s << "algo " << id << " tile " << tile << " stages " << stages << " split-k " << splitk << " reduction "
      << reduction << " swizzle " << swizzle << " custom " << custom << " inner " << inner << " cluster " << cluster;
    return s.str();
  }
};

template <class T>
T get_config(const cublasLtMatmulAlgo_t& algo, cublasLtMatmulAlgoConfigAttributes_t attr) {
  T v{};
  size_t written = 0;
  check_lt(cublasLtMatmulAlgoConfigGetAttribute(&algo, attr, &v, sizeof v, &written), "AlgoConfigGetAttribute");
  return v;
}
template <class T>
void set_config(cublasLtMatmulAlgo_t& algo, cublasLtMatmulAlgoConfigAttributes_t attr, T v) {
  check_lt(cublasLtMatmulAlgoConfigSetAttribute(&algo, attr, &v, sizeof v), "AlgoConfigSetAttribute");
}

AlgoConfig read_config(const cublasLtMatmulAlgo_t& a) {
  AlgoConfig c;
  c.id = get_config<int32_t>(a, CUBLASLT_ALGO_CONFIG_ID);
  c.tile = get_config<uint32_t>(a, CUBLASLT_ALGO_CONFIG_TILE_ID);
  c.splitk = get_config<int32_t>(a, CUBLASLT_ALGO_CONFIG_SPLITK_NUM);
  c.reduction = get_config<uint32_t>(a, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME);
  c.swizzle = get_config<uint32_t>(a, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING);
  c.custom = get_config<uint32_t>(a, CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION);
  c.stages = get_config<uint32_t>(a, CUBLASLT_ALGO_CONFIG_STAGES_ID);
  c.inner = get_config<uint16_t>(a, CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID);
  c.cluster = get_config<uint16_t>(a, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID);
  return c;
}

// What this process pinned, for provenance: one line per layer shape and math.
struct Registry {
  std::mutex mu;
  std::map<std::string, int> layers;  // "tf32 N=.. K=..: algo ..." -> how many layers
};
Registry& registry() {
  static Registry r;
  return r;
}

__global__ void round_to_bf16(const float* x, int64_t ldx, __nv_bfloat16* out, int64_t k, int64_t m) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= k * m) return;
  const int64_t row = i / k, col = i % k;
  out[i] = __float2bfloat16_rn(x[row * ldx + col]);
}

class CublasLtLinear final : public Linear {
 public:
  CublasLtLinear(const WeightView* parts, int n_parts) : math_(math_from_environment()) {
    std::vector<float> w = decode_weight_parts(parts, n_parts, n_out_, n_in_);
    if (math_ == Math::Bf16) {
      std::vector<__nv_bfloat16> h(w.size());
      for (size_t i = 0; i < w.size(); ++i) h[i] = __float2bfloat16_rn(w[i]);
      w_bytes_ = h.size() * sizeof(__nv_bfloat16);
      check_cuda(cudaMalloc(&w_dev_, w_bytes_), "cudaMalloc(weights)");
      check_cuda(cudaMemcpy(w_dev_, h.data(), w_bytes_, cudaMemcpyHostToDevice), "upload weights");
    } else {
      w_bytes_ = w.size() * sizeof(float);
      check_cuda(cudaMalloc(&w_dev_, w_bytes_), "cudaMalloc(weights)");
      check_cuda(cudaMemcpy(w_dev_, w.data(), w_bytes_, cudaMemcpyHostToDevice), "upload weights");
    }
    // 16-byte rows when the shapes allow (what the fast tensor-core kernels want), else 4.
    const int64_t per16 = math_ == Math::Bf16 ? 8 : 4;
    align_ = (n_in_ % per16 == 0 && n_out_ % 4 == 0) ? 16 : 4;
    check_cuda(cudaMalloc(&workspace_, kWorkspaceBytes), "cudaMalloc(workspace)");
    check_lt(cublasLtCreate(&lt_), "cublasLtCreate");
    pin_algorithm();
  }
  ~CublasLtLinear() override {
    cudaFree(stage_);
    cudaFree(workspace_);
    cudaFree(w_dev_);
    if (lt_) cublasLtDestroy(lt_);
  }
  size_t bytes() const override { return w_bytes_; }

  void forward(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) const override {
    if (m <= 0) return;
    // Host memory, or rows the pinned algorithm cannot address (alignment): through staging.
    if (is_host_pointer(x) || is_host_pointer(y) || !aligned(x, ldx) || !aligned(y, ldy))
      return forward_staged(x, m, ldx, y, ldy);
    gemm(x, m, ldx, y, ldy);
  }

 private:
  Math math_;
  uint32_t align_ = 4;  // bytes: of every operand's start and row stride (the heuristic's minimum)
  void* w_dev_ = nullptr;
  size_t w_bytes_ = 0;
  void* workspace_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;
  cublasLtMatmulAlgo_t algo_{};
  mutable float* stage_ = nullptr;  // device copies of x and y for host callers (grow-only)
  mutable size_t stage_floats_ = 0;
  mutable __nv_bfloat16* xb_ = nullptr;  // bf16: X rounded (grow-only; lives in stage_)
  mutable size_t xb_elems_ = 0;

  cublasComputeType_t compute() const {
    return math_ == Math::Tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  }
  cudaDataType_t operand_type() const { return math_ == Math::Tf32 ? CUDA_R_32F : CUDA_R_16BF; }
  const char* math_name() const { return math_ == Math::Tf32 ? "tf32" : "bf16"; }

  // Descriptors live on the stack (the *Init forms): no allocation per call.
  struct Descs {
    cublasLtMatmulDescOpaque_t op;
    cublasLtMatrixLayoutOpaque_t a, b, d;
  };
  void describe(Descs& s, int64_t m, int64_t ldb, int64_t ldd) const {
    check_lt(cublasLtMatmulDescInit(reinterpret_cast<cublasLtMatmulDesc_t>(&s.op), compute(), CUDA_R_32F),
             "MatmulDescInit");
    const cublasOperation_t t = CUBLAS_OP_T, n = CUBLAS_OP_N;
    auto op = reinterpret_cast<cublasLtMatmulDesc_t>(&s.op);
    check_lt(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t), "TRANSA");
    check_lt(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &n, sizeof n), "TRANSB");
    check_lt(cublasLtMatrixLayoutInit(reinterpret_cast<cublasLtMatrixLayout_t>(&s.a), operand_type(), n_in_, n_out_,
                                      n_in_), "layout A");
    check_lt(cublasLtMatrixLayoutInit(reinterpret_cast<cublasLtMatrixLayout_t>(&s.b), operand_type(), n_in_, m, ldb),
             "layout B");
    check_lt(cublasLtMatrixLayoutInit(reinterpret_cast<cublasLtMatrixLayout_t>(&s.d), CUDA_R_32F, n_out_, m, ldd),
             "layout D");
  }
  static cublasLtMatmulDesc_t op(Descs& s) { return reinterpret_cast<cublasLtMatmulDesc_t>(&s.op); }
  static cublasLtMatrixLayout_t lay(cublasLtMatrixLayoutOpaque_t& l) { return reinterpret_cast<cublasLtMatrixLayout_t>(&l); }

  bool passes_check(const cublasLtMatmulAlgo_t& a, int64_t m) const {
    Descs s;
    describe(s, m, n_in_, n_out_);
    cublasLtMatmulHeuristicResult_t r{};
    return cublasLtMatmulAlgoCheck(lt_, op(s), lay(s.a), lay(s.b), lay(s.d), lay(s.d), &a, &r) ==
               CUBLAS_STATUS_SUCCESS &&
           r.workspaceSize <= kWorkspaceBytes;
  }

  void pin_algorithm() {
    Descs s;
    describe(s, kReferenceM, n_in_, n_out_);
    cublasLtMatmulPreference_t pref = nullptr;
    check_lt(cublasLtMatmulPreferenceCreate(&pref), "MatmulPreferenceCreate");
    const uint64_t ws = kWorkspaceBytes;
    check_lt(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws),
             "PREF_MAX_WORKSPACE_BYTES");
    // Weights are cudaMalloc'd (256-byte aligned); activation rows are only as aligned as their
    // stride: ask for align_, which forward() checks (or stages).
    const uint32_t align = align_;
    for (auto attr : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
      check_lt(cublasLtMatmulPreferenceSetAttribute(pref, attr, &align, sizeof align), "PREF_MIN_ALIGNMENT");
    cublasLtMatmulHeuristicResult_t found[kCandidates] = {};
    int n_found = 0;
    const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(lt_, op(s), lay(s.a), lay(s.b), lay(s.d), lay(s.d), pref,
                                                             kCandidates, found, &n_found);
    cublasLtMatmulPreferenceDestroy(pref);
    check_lt(st, "MatmulAlgoGetHeuristic");
    for (int i = 0; i < n_found; ++i) {
      if (found[i].state != CUBLAS_STATUS_SUCCESS) continue;
      const AlgoConfig c = read_config(found[i].algo);
      if (c.splitk > 1 || c.reduction != CUBLASLT_REDUCTION_SCHEME_NONE) continue;  // K in one part only
      // Re-created from its id and configuration: what provenance records is what runs.
      cublasLtMatmulAlgo_t a{};
      check_lt(cublasLtMatmulAlgoInit(lt_, compute(), CUDA_R_32F, operand_type(), operand_type(), CUDA_R_32F,
                                      CUDA_R_32F, c.id, &a),
               "MatmulAlgoInit");
      set_config(a, CUBLASLT_ALGO_CONFIG_TILE_ID, c.tile);
      set_config(a, CUBLASLT_ALGO_CONFIG_STAGES_ID, c.stages);
      set_config(a, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, int32_t(1));
      set_config(a, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, uint32_t(CUBLASLT_REDUCTION_SCHEME_NONE));
      set_config(a, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, c.swizzle);
      set_config(a, CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION, c.custom);
      set_config(a, CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID, c.inner);
      set_config(a, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, c.cluster);
      if (!passes_check(a, 1) || !passes_check(a, kReferenceM) || !passes_check(a, kMaxCheckedM)) continue;
      algo_ = a;
      std::lock_guard<std::mutex> lock(registry().mu);
      ++registry().layers[std::string(math_name()) + " N=" + std::to_string(n_out_) + " K=" + std::to_string(n_in_) +
                          ": " + read_config(a).text()];
      return;
    }
    throw Error("cuBLASLt: no algorithm for the " + std::to_string(n_out_) + " x " + std::to_string(n_in_) + " " +
                math_name() + " GEMM runs K in one part (split-K 1, no reduction) at every M; use --gemm fixed");
  }

  bool aligned(const float* p, int64_t ld) const {
    return reinterpret_cast<uintptr_t>(p) % align_ == 0 && (size_t(ld) * sizeof(float)) % align_ == 0;
  }

  static bool is_host_pointer(const void* p) {
    cudaPointerAttributes a{};
    if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
      (void)cudaGetLastError();  // clear the error: an unknown pointer is plain host memory
      return true;
    }
    return a.type == cudaMemoryTypeUnregistered || a.type == cudaMemoryTypeHost;
  }

  // Host activations (a host Kokkos build offloading only its GEMMs) or misaligned device rows:
  // copy x in, y out (cudaMemcpyDefault: either memory, known by unified addressing).
  void forward_staged(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) const {
    const size_t need = size_t(m) * (n_in_ + n_out_);
    if (need > stage_floats_) {
      cudaFree(stage_);
      stage_ = nullptr;
      stage_floats_ = 0;
      check_cuda(cudaMalloc(&stage_, need * sizeof(float)), "cudaMalloc(stage)");
      stage_floats_ = need;
    }
    float* dx = stage_;
    float* dy = stage_ + size_t(m) * n_in_;
    check_cuda(cudaMemcpy2D(dx, n_in_ * sizeof(float), x, ldx * sizeof(float), n_in_ * sizeof(float), m,
                            cudaMemcpyDefault), "stage x");
    gemm(dx, m, n_in_, dy, n_out_);
    check_cuda(cudaMemcpy2D(y, ldy * sizeof(float), dy, n_out_ * sizeof(float), n_out_ * sizeof(float), m,
                            cudaMemcpyDefault), "stage y");  // to host memory: synchronous, y is ready
  }

  void gemm(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) const {
    const void* b = x;
    int64_t ldb = ldx;
    if (math_ == Math::Bf16) {
      const size_t need = size_t(m) * n_in_;
      if (need > xb_elems_) {  // grows to the largest step once, then stays
        cudaFree(xb_);
        xb_ = nullptr;
        xb_elems_ = 0;
        check_cuda(cudaMalloc(&xb_, need * sizeof(__nv_bfloat16)), "cudaMalloc(bf16 activations)");
        xb_elems_ = need;
      }
      const int threads = 256;
      const int64_t blocks = (int64_t(need) + threads - 1) / threads;
      round_to_bf16<<<static_cast<unsigned>(blocks), threads>>>(x, ldx, xb_, n_in_, m);
      check_cuda(cudaGetLastError(), "round_to_bf16 launch");
      b = xb_;
      ldb = n_in_;
    }
    Descs s;
    describe(s, m, ldb, ldy);
    const float one = 1.0f, zero = 0.0f;
    check_lt(cublasLtMatmul(lt_, op(s), &one, w_dev_, lay(s.a), b, lay(s.b), &zero, y, lay(s.d), y, lay(s.d), &algo_,
                            workspace_, kWorkspaceBytes, /*stream=*/0),
             "cublasLtMatmul");
  }
};

}  // namespace

std::unique_ptr<Linear> make_linear_cublas(const WeightView* parts, int n_parts) {
  return std::make_unique<CublasLtLinear>(parts, n_parts);
}

std::string cublas_gemm_provenance() {
  std::lock_guard<std::mutex> lock(registry().mu);
  if (registry().layers.empty()) return "";
  int device = 0;
  cudaGetDevice(&device);
  cudaDeviceProp p{};
  cudaGetDeviceProperties(&p, device);
  std::ostringstream s;
  s << "cuBLASLt " << cublasLtGetVersion() << " (CUDA runtime " << cublasLtGetCudartVersion() << "), " << p.name
    << " sm_" << p.major << p.minor << " with " << p.multiProcessorCount << " SMs, workspace " << (kWorkspaceBytes >> 20)
    << " MiB, one algorithm per layer shape for every M:";
  for (const auto& [what, n] : registry().layers) s << " [" << what << " x" << n << "]";
  return s.str();
}

}  // namespace sci_infer
