#pragma once
// Deterministic random-weight Llama models written as GGUF: the project's test and demo models.
// The same spec and seed give the same file bytes on every machine (counter-based generator,
// no std:: distributions whose output is implementation-defined).
#include <cstdint>
#include <string>

#include "sci_infer/tensor_types.hpp"

namespace sci_infer {

struct ModelSpec {
  uint32_t n_vocab = 32000;
  uint32_t dim = 768;          // llama.embedding_length
  uint32_t n_layers = 12;      // llama.block_count
  uint32_t n_heads = 12;       // llama.attention.head_count
  uint32_t n_kv_heads = 4;     // llama.attention.head_count_kv
  uint32_t ffn_dim = 2048;     // llama.feed_forward_length
  uint32_t context = 2048;     // llama.context_length
  float rope_theta = 10000.0f; // llama.rope.freq_base
  float norm_eps = 1e-5f;      // llama.attention.layer_norm_rms_epsilon
  bool tied_output = true;     // no output.weight: reuse token_embd.weight
  GgmlType dtype = GgmlType::F32;  // 2-D weights; norms are always F32
  uint64_t seed = 1234;
  std::string name = "sci_infer-test";
};

// Parse a preset name ("tiny" ~1M, "15m", "100m") into a spec; throws sci_infer::Error.
ModelSpec model_spec_preset(const std::string& preset);

// Number of weights make_test_model writes for `spec` (norms included; a tied output counts once).
uint64_t model_param_count(const ModelSpec& spec);

// Writes the model, with a synthetic SentencePiece tokenizer (make_synthetic_spm_vocab)
// in its metadata, as GGUF v3. Tensor names and shapes follow llama.cpp's arch "llama".
void make_test_model(const ModelSpec& spec, const std::string& path);

}  // namespace sci_infer
