#pragma once
// A Llama-family model as described by its GGUF file: hyper-parameters, tokenizer and the
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

struct ModelConfig {
  std::string arch;          // general.architecture ("llama")
  std::string name;          // general.name
  int32_t n_vocab = 0;
  int32_t dim = 0;
  int32_t n_layers = 0;
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;
  int32_t head_dim = 0;      // dim / n_heads (llama.rope.dimension_count must agree)
  int32_t ffn_dim = 0;
  int32_t context = 0;
  float rope_theta = 10000.0f;
  float norm_eps = 1e-5f;
  bool tied_output = false;  // no output.weight: the token embedding is reused
  GgmlType weight_type = GgmlType::F32;  // type of the attention/FFN weights
  // The largest block (values) among the row-parallel weights (attn_output, ffn_down), which
  // tensor parallelism cuts along K: their fixed K-chunks are whole blocks of it. Files mix
  // types (a Q4_K ffn_down next to a Q5_0 attn_q), so this is not weight_type's block.
  int32_t k_block = 1;
  int64_t n_params = 0;                  // in this file (a shard holds only its slices)
  // A tensor-parallel shard file (`sci-infer shard`) holds only rank shard_rank's slices of a
  // model split shard_tp ways; every other field describes the whole model.
  int32_t shard_tp = 1, shard_rank = 0;
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
  std::string layer_weight_name(int layer, const char* suffix) const;

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

// Reads and validates the llama.* hyper-parameters of a GGUF file.
ModelConfig read_model_config(const GgufFile& f);

}  // namespace sci_infer
