#pragma once
// A transformer model (any architecture of lib/model/architecture.hpp) as described by its GGUF file: hyper-parameters, tokenizer and the
// (memory-mapped, validated) weight tensors. No compute here: the engine builds its kernels'
// packed weights from the WeightViews this class hands out.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sci_infer/gguf.hpp"
#include "sci_infer/tensor_types.hpp"
#include "sci_infer/tokenizer.hpp"

namespace sci_infer {

// RoPE as the file describes it (llama.cpp's conventions: ggml's rope_yarn). The rotation of
// pair i at position p is theta = p * freq_base^(-2i/head_dim) / factor_i, interpolated by
// freq_scale (linear) or mixed per pair by YaRN's ramp (ext_factor), cos/sin scaled by mscale.
struct RopeConfig {
  std::string layout = "norm";   // "norm": pairs (2i, 2i+1); "neox": pairs (i, i + head_dim/2)
  std::string scaling = "none";  // none, linear, yarn (rope.scaling.type)
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;       // 1 / rope.scaling.factor
  float attn_factor = 1.0f;      // rope.scaling.attn_factor
  float beta_fast = 32.0f, beta_slow = 1.0f;
  int32_t n_ctx_orig = 0;        // rope.scaling.original_context_length (else context_length)
  bool freq_factors = false;     // rope_freqs.weight (Llama 3.1/3.2 scaling) divides each pair's frequency
  // Sliding-window layers (Gemma): their own base and scale.
  float freq_base_swa = 10000.0f, freq_scale_swa = 1.0f;
};

struct ModelConfig {
  std::string arch;          // general.architecture (lib/model/architecture.hpp has its table)
  std::string name;          // general.name
  int32_t n_vocab = 0;
  int32_t dim = 0;
  int32_t n_layers = 0;
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;
  int32_t head_dim = 0;      // attention.key_length (= value_length), else dim / n_heads
  int32_t ffn_dim = 0;
  int32_t context = 0;
  float rope_theta = 10000.0f;  // = rope.freq_base
  float norm_eps = 1e-5f;
  bool tied_output = false;  // no output.weight: the token embedding is reused
  GgmlType weight_type = GgmlType::F32;  // type of the attention/FFN weights
  int64_t n_params = 0;                  // in this file (a shard holds only its slices)
  // A tensor-parallel shard file (`sci-infer shard`) holds only rank shard_rank's slices of a
  // model split shard_tp ways; every other field describes the whole model.
  int32_t shard_tp = 1, shard_rank = 0;
  // ---- The per-layer recipe, from the architecture table and the file ----
  RopeConfig rope;
  uint64_t roles_present = 0;     // bit r: tensor role r (architecture.hpp) is in the file
  int32_t sliding_window = 0;     // keys within this many positions (query included); 0: none
  std::vector<uint8_t> swa_layers;  // per layer: 1 when it attends through the sliding window
  float attn_softcap = 0.0f;      // 0: none
  float final_softcap = 0.0f;     // 0: none
  float embed_scale = 0.0f;       // 0: none; else token embeddings are multiplied by it
  float attn_q_scale = 0.0f;      // 0: 1/sqrt(head_dim) in the softmax; else Q is scaled by it first
  bool gelu = false;              // GeGLU (tanh GELU) instead of SwiGLU
};

// A weight as found in the file: N rows (outputs) of K elements of `type`, row-major.
// A tensor-parallel shard is a view of rows [r0, r0 + n) (`rows`) or of the columns
// [k0, k0 + n) of every row (`columns`, strided); Q8_0 columns must start on a 32-block.
struct WeightView {
  std::string name;
  GgmlType type = GgmlType::F32;
  int64_t n_out = 0;  // N (ggml ne[1], or 1 for vectors)
  int64_t n_in = 0;   // K (ggml ne[0])
  const uint8_t* data = nullptr;  // host memory (the mapped file)
  size_t row_stride = 0;          // bytes between rows; 0: rows are dense (ggml_row_bytes)

  size_t stride() const { return row_stride ? row_stride : ggml_row_bytes(type, n_in); }
  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * stride(); }
  WeightView rows(int64_t r0, int64_t n) const;
  WeightView columns(int64_t k0, int64_t n) const;
};

class Model {
 public:
  // Opens the file, reads and checks the configuration, the tokenizer and every tensor's
  // presence, type and shape. Throws sci_infer::Error naming the file and what is wrong.
  static std::shared_ptr<const Model> open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  const ModelConfig& config() const { return config_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const GgufFile& file() const { return *file_; }
  // The named tensor as a matrix (vectors come back with n_out == 1).
  WeightView weight(const std::string& name) const;
  // The named tensor, or a view with data == nullptr when the file has no such tensor.
  WeightView weight_if_present(const std::string& name) const;

 private:
  std::unique_ptr<GgufFile> file_;
  ModelConfig config_;
  std::unique_ptr<Tokenizer> tokenizer_;
};

// Model paths may name one shard file per tensor-parallel rank: "{tp_rank}" is replaced by the
// rank's index in its group (e.g. shards/m.tp4.rank{tp_rank}.gguf).
std::string shard_path(const std::string& pattern, int tp_rank);

// A cheap identity of the model a file holds, to check that ranks loaded the same model:
// SHA-256 of the GGUF header (metadata + tensor table) and the file size, as hex; for a
// tensor-parallel shard file (`sci-infer shard`), the fingerprint of the model it was cut from.
std::string model_fingerprint(const Model& model);

// Reads and validates the hyper-parameters and tensors of a GGUF file against its architecture's table.
ModelConfig read_model_config(const GgufFile& f);

}  // namespace sci_infer
