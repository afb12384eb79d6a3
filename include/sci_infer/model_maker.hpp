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
  // ---- Architecture (lib/model/architecture.hpp) and its options, in llama.cpp's conventions ----
  std::string arch = "llama";  // llama, qwen2, qwen3, gemma2, gemma3
  uint32_t head_dim = 0;       // 0: dim / n_heads; else written as attention.key_length/value_length
  // RoPE scaling: none; linear or yarn (rope.scaling.type/factor/original_context_length);
  // llama3 (Llama 3.1/3.2: rope_freqs.weight computed as convert_hf_to_gguf.py does).
  std::string rope_scaling = "none";
  float rope_factor = 8.0f;
  uint32_t rope_orig_context = 0;          // 0: context / 4
  float rope_low_freq_factor = 1.0f, rope_high_freq_factor = 4.0f;  // llama3
  uint32_t sliding_window = 0;             // gemma2/gemma3: attention.sliding_window (0: arch default)
  float attn_softcap = 50.0f, final_softcap = 30.0f;  // gemma2 (gemma3: final only, 0 = none)
  float rope_theta_swa = 10000.0f;         // gemma3 local layers
};

// Parse a preset name ("tiny" ~1M, "15m", "100m") into a spec; throws sci_infer::Error.
ModelSpec model_spec_preset(const std::string& preset);

// Number of weights make_test_model writes for `spec` (norms included; a tied output counts once).
uint64_t model_param_count(const ModelSpec& spec);

// Writes the model, with a synthetic SentencePiece tokenizer (make_synthetic_spm_vocab)
// in its metadata, as GGUF v3. Tensor names, shapes and keys follow llama.cpp's for spec.arch.
void make_test_model(const ModelSpec& spec, const std::string& path);

}  // namespace sci_infer
