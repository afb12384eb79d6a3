// oneDNN matmul backend (host). Weights are dequantized to F32 and reordered once into the
// layout oneDNN's matmul prefers (format_tag::any + reorder): without prepacking, skinny
// (decode-sized) matmuls run about 10x slower. The row count M is a runtime dimension, so one
// primitive serves every batch size.
//
// NOT batch-invariant in general: oneDNN may pick different kernels (and so different
// reduction orders) for different M. The test suite measures this; the default backend is
// the fixed-order one (see docs/reproducibility.md).
//
// Builds against oneDNN 2.x (Debian 12 ships 2.6) and 3.x (Spack, Intel oneAPI). The only
// difference used here: 3.x removed the operation descriptors (dnnl::matmul::desc), and a
// primitive descriptor is built from the engine and the memory descriptors directly,
//   dnnl::matmul::primitive_desc(const engine&, const memory::desc& src,
//                                const memory::desc& weights, const memory::desc& dst,
//                                const primitive_attr& = default_attr(), bool allow_empty = false)
// (oneDNN v3 API reference: https://oneapi-src.github.io/oneDNN/struct_dnnl_matmul_primitive_desc.html;
// 2.x: dnnl::matmul::desc, https://oneapi-src.github.io/oneDNN/v2.5/struct_dnnl_matmul_desc.html).
// Everything else below (memory::desc with strides, format_tag::any, weights_desc(),
// get_size(), reorder, execute) is the same in both.
#include <oneapi/dnnl/dnnl.hpp>
#include <oneapi/dnnl/dnnl_version.h>  // DNNL_VERSION_MAJOR
#include <mutex>

#include "kernels/linear.hpp"
#include "kernels/weight_decode.hpp"
#include "sci_infer/error.hpp"

namespace sci_infer {
namespace {

using dnnl::memory;

class OneDnnLinear final : public Linear {
 public:
  OneDnnLinear(const WeightView* parts, int n_parts) : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    std::vector<float> w = decode_weight_parts(parts, n_parts, n_out_, n_in_);
    const memory::dim K = n_in_, N = n_out_, M = DNNL_RUNTIME_DIM_VAL;
    memory::desc src_md({M, K}, memory::data_type::f32, {DNNL_RUNTIME_DIM_VAL, 1});
    memory::desc dst_md({M, N}, memory::data_type::f32, {DNNL_RUNTIME_DIM_VAL, 1});
    memory::desc w_any({K, N}, memory::data_type::f32, memory::format_tag::any);
#if DNNL_VERSION_MAJOR >= 3
    dnnl::matmul::primitive_desc pd(engine_, src_md, w_any, dst_md);
#else
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, w_any, dst_md), engine_);
#endif
    matmul_ = dnnl::matmul(pd);
    // The file's [N][K] row-major weight is the [K, N] matrix in "ba" order.
    memory w_plain({{K, N}, memory::data_type::f32, memory::format_tag::ba}, engine_, w.data());
    weights_ = memory(pd.weights_desc(), engine_);
    dnnl::reorder(w_plain, weights_).execute(stream_, w_plain, weights_);
    stream_.wait();
    packed_bytes_ = pd.weights_desc().get_size();
  }
  size_t bytes() const override { return packed_bytes_; }

  void forward(const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) const override {
    if (m <= 0) return;
    memory src({{m, n_in_}, memory::data_type::f32, {ldx, 1}}, engine_, const_cast<float*>(x));
    memory dst({{m, n_out_}, memory::data_type::f32, {ldy, 1}}, engine_, y);
    std::lock_guard<std::mutex> lock(mutex_);  // one stream per layer object
    matmul_.execute(stream_, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights_}, {DNNL_ARG_DST, dst}});
    stream_.wait();
  }

 private:
  dnnl::engine engine_;
  mutable dnnl::stream stream_;
  dnnl::matmul matmul_;
  memory weights_;
  size_t packed_bytes_ = 0;
  mutable std::mutex mutex_;
};

}  // namespace

std::unique_ptr<Linear> make_linear_onednn(const WeightView* parts, int n_parts) {
  return std::make_unique<OneDnnLinear>(parts, n_parts);
}

}  // namespace sci_infer
