#pragma once
// Hugging Face -> GGUF names: the architecture a config.json describes, and each checkpoint
// tensor's llama.cpp name (as convert_hf_to_gguf.py / gguf-py's tensor_mapping.py name them).
// When the per-architecture table (arch) lands, these columns move beside its GGUF names.
#include <string>

#include <nlohmann/json.hpp>

namespace sci_infer {

struct HfArch {
  std::string gguf;        // general.architecture: llama, qwen2, qwen3, gemma2, gemma3
  bool permuted_qk = false;  // the converter permutes Q/K rows (llama): the view says rope layout "neox"
  bool norm_plus_one = false;  // Gemma stores RMSNorm weights as w - 1; the converter adds 1
};

// From config.json "architectures"[0] (or "model_type"); throws naming the file if unsupported.
HfArch hf_arch_of(const nlohmann::json& config, const std::string& config_path);

// The GGUF name of HF tensor `hf`, "" for a tensor the converter drops (rotary inv_freq,
// a multimodal model's vision tower), or throws naming the tensor and its file.
std::string hf_tensor_gguf_name(const HfArch& a, const std::string& hf, const std::string& file);

}  // namespace sci_infer
