// HF tensor names -> GGUF names (gguf-py/gguf/tensor_mapping.py's entries for these families).
#include "model/hf_names.hpp"

#include "sci_infer/error.hpp"

#include <cstring>
#include <utility>

namespace sci_infer {
namespace {

struct NamePair { const char* hf; const char* gguf; };

// Whole-model tensors.
const NamePair kGlobal[] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
};

// Per-layer tensors after "model.layers.N.": "blk.N." + gguf.
const NamePair kLayer[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},       {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.weight", "attn_k.weight"},       {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.weight", "attn_v.weight"},       {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.weight", "attn_output.weight"},  {"self_attn.o_proj.bias", "attn_output.bias"},
    {"self_attn.q_norm.weight", "attn_q_norm.weight"},  {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
};
// Gemma 2/3 have four norms per layer: post_attention_layernorm is the attention output's norm
// there, while in llama/qwen it is the pre-FFN norm.
const NamePair kLayerLlama[] = {{"post_attention_layernorm.weight", "ffn_norm.weight"}};
const NamePair kLayerGemma[] = {{"post_attention_layernorm.weight", "post_attention_norm.weight"},
                                {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},
                                {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"}};

template <size_t N>
const char* lookup(const NamePair (&t)[N], const std::string& s) {
  for (const NamePair& p : t)
    if (s == p.hf) return p.gguf;
  return nullptr;
}

bool starts_with(const std::string& s, const char* p) { return s.compare(0, std::strlen(p), p) == 0; }

}  // namespace

HfArch hf_arch_of(const nlohmann::json& config, const std::string& config_path) {
  std::string name;
  if (config.contains("architectures") && config["architectures"].is_array() && !config["architectures"].empty() &&
      config["architectures"][0].is_string())
    name = config["architectures"][0].get<std::string>();
  const std::string type = config.value("model_type", std::string());
  static const std::pair<const char*, HfArch> kArchs[] = {
      {"LlamaForCausalLM", {"llama", true, false}},   {"MistralForCausalLM", {"llama", true, false}},
      {"Qwen2ForCausalLM", {"qwen2", false, false}},  {"Qwen3ForCausalLM", {"qwen3", false, false}},
      {"Gemma2ForCausalLM", {"gemma2", false, true}}, {"Gemma3ForCausalLM", {"gemma3", false, true}},
      {"Gemma3ForConditionalGeneration", {"gemma3", false, true}},
  };
  static const std::pair<const char*, const char*> kTypes[] = {
      {"llama", "LlamaForCausalLM"}, {"mistral", "MistralForCausalLM"}, {"qwen2", "Qwen2ForCausalLM"},
      {"qwen3", "Qwen3ForCausalLM"}, {"gemma2", "Gemma2ForCausalLM"},   {"gemma3_text", "Gemma3ForCausalLM"}};
  if (name.empty())
    for (const auto& t : kTypes)
      if (type == t.first) name = t.second;
  for (const auto& a : kArchs)
    if (name == a.first) return a.second;
  if (name == "GptOssForCausalLM")
    throw Error(config_path + ": architecture GptOssForCausalLM (MXFP4 *_blocks/*_scales experts) is not supported yet");
  std::string known;
  for (const auto& a : kArchs) known += (known.empty() ? "" : ", ") + std::string(a.first);
  throw Error(config_path + ": architecture '" + (name.empty() ? type : name) + "' is not supported (" + known + ")");
}

std::string hf_tensor_gguf_name(const HfArch& a, const std::string& hf_in, const std::string& file) {
  std::string hf = hf_in;
  // Gemma 3 multimodal checkpoints: the text model under language_model; the rest is dropped.
  if (starts_with(hf, "language_model.")) hf = hf.substr(std::strlen("language_model."));
  else if (starts_with(hf, "model.language_model.")) hf = "model." + hf.substr(std::strlen("model.language_model."));
  else if (starts_with(hf, "vision_tower.") || starts_with(hf, "multi_modal_projector.") ||
           starts_with(hf, "model.vision_tower.") || starts_with(hf, "model.multi_modal_projector."))
    return "";
  if (const char* g = lookup(kGlobal, hf)) return g;
  if (starts_with(hf, "model.layers.")) {
    const size_t b = std::strlen("model.layers."), dot = hf.find('.', b);
    const std::string n = dot == std::string::npos ? "" : hf.substr(b, dot - b);
    if (!n.empty() && n.size() <= 9 && n.find_first_not_of("0123456789") == std::string::npos) {
      const std::string rest = hf.substr(dot + 1);
      if (rest == "self_attn.rotary_emb.inv_freq") return "";  // recomputed from rope_theta
      const char* g = lookup(kLayer, rest);
      if (!g) g = a.norm_plus_one ? lookup(kLayerGemma, rest) : lookup(kLayerLlama, rest);
      if (g) return "blk." + std::to_string(std::stoull(n)) + "." + g;
    }
  }
  if (hf.size() > 7 && (hf.compare(hf.size() - 7, 7, "_blocks") == 0 || hf.compare(hf.size() - 7, 7, "_scales") == 0))
    throw Error(file + ": tensor '" + hf_in + "': MXFP4 *_blocks/*_scales tensors are not supported yet");
  throw Error(file + ": tensor '" + hf_in + "' has no GGUF name for architecture " + a.gguf +
              " (not a tensor of a " + a.gguf + " checkpoint)");
}

}  // namespace sci_infer
