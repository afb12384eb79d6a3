// The architecture tables (architecture.hpp). Names, shapes and conventions follow llama.cpp
// (src/llama-arch.cpp, src/models/<arch>.cpp, convert_hf_to_gguf.py) exactly, since that is how
// the GGUF files users download are written.
#include "model/architecture.hpp"

#include <map>

#include "sci_infer/error.hpp"

namespace sci_infer {
namespace {

using S = Size;
using P = Split;

const std::vector<RoleInfo>& catalogue() {
  static const std::vector<RoleInfo> roles = {
      {Role::TokenEmbd, "token_embd.weight", false, {S::Dim, S::Vocab}, P::VocabRows, false,
       {Role::TokenEmbd, "model.embed_tokens.weight"}},
      {Role::OutputNorm, "output_norm.weight", false, {S::Dim}, P::Replicated, true,
       {Role::OutputNorm, "model.norm.weight"}},
      {Role::Output, "output.weight", false, {S::Dim, S::Vocab}, P::VocabRows, false,
       {Role::Output, "lm_head.weight"}},
      {Role::RopeFreqs, "rope_freqs.weight", false, {S::RopeHalf}, P::Replicated, true,
       {Role::RopeFreqs, nullptr}},
      {Role::AttnNorm, "attn_norm.weight", true, {S::Dim}, P::Replicated, true,
       {Role::AttnNorm, "input_layernorm.weight"}},
      {Role::AttnQ, "attn_q.weight", true, {S::Dim, S::QDim}, P::QHeadRows, false,
       {Role::AttnQ, "self_attn.q_proj.weight"}},
      {Role::AttnK, "attn_k.weight", true, {S::Dim, S::KvDim}, P::KvHeadRows, false,
       {Role::AttnK, "self_attn.k_proj.weight"}},
      {Role::AttnV, "attn_v.weight", true, {S::Dim, S::KvDim}, P::KvHeadRows, false,
       {Role::AttnV, "self_attn.v_proj.weight"}},
      {Role::AttnQBias, "attn_q.bias", true, {S::QDim}, P::QHeadRows, true,
       {Role::AttnQBias, "self_attn.q_proj.bias"}},
      {Role::AttnKBias, "attn_k.bias", true, {S::KvDim}, P::KvHeadRows, true,
       {Role::AttnKBias, "self_attn.k_proj.bias"}},
      {Role::AttnVBias, "attn_v.bias", true, {S::KvDim}, P::KvHeadRows, true,
       {Role::AttnVBias, "self_attn.v_proj.bias"}},
      {Role::AttnQNorm, "attn_q_norm.weight", true, {S::HeadDim}, P::Replicated, true,
       {Role::AttnQNorm, "self_attn.q_norm.weight"}},
      {Role::AttnKNorm, "attn_k_norm.weight", true, {S::HeadDim}, P::Replicated, true,
       {Role::AttnKNorm, "self_attn.k_norm.weight"}},
      {Role::AttnOut, "attn_output.weight", true, {S::QDim, S::Dim}, P::QHeadCols, false,
       {Role::AttnOut, "self_attn.o_proj.weight"}},
      // Row-parallel biases are added once, after the partial sums are combined: replicated.
      {Role::AttnOutBias, "attn_output.bias", true, {S::Dim}, P::Replicated, true,
       {Role::AttnOutBias, "self_attn.o_proj.bias"}},
      {Role::AttnPostNorm, "post_attention_norm.weight", true, {S::Dim}, P::Replicated, true,
       {Role::AttnPostNorm, "post_attention_layernorm.weight"}},
      {Role::AttnSinks, "attn_sinks.weight", true, {S::Heads}, P::QHeadRows, true,
       {Role::AttnSinks, "self_attn.sinks"}},
      {Role::FfnNorm, "ffn_norm.weight", true, {S::Dim}, P::Replicated, true,
       {Role::FfnNorm, "post_attention_layernorm.weight"}},
      {Role::FfnGate, "ffn_gate.weight", true, {S::Dim, S::Ffn}, P::FfnRows, false,
       {Role::FfnGate, "mlp.gate_proj.weight"}},
      {Role::FfnUp, "ffn_up.weight", true, {S::Dim, S::Ffn}, P::FfnRows, false,
       {Role::FfnUp, "mlp.up_proj.weight"}},
      {Role::FfnDown, "ffn_down.weight", true, {S::Ffn, S::Dim}, P::FfnCols, false,
       {Role::FfnDown, "mlp.down_proj.weight"}},
      {Role::FfnGateBias, "ffn_gate.bias", true, {S::Ffn}, P::FfnRows, true,
       {Role::FfnGateBias, "mlp.gate_proj.bias"}},
      {Role::FfnUpBias, "ffn_up.bias", true, {S::Ffn}, P::FfnRows, true,
       {Role::FfnUpBias, "mlp.up_proj.bias"}},
      {Role::FfnDownBias, "ffn_down.bias", true, {S::Dim}, P::Replicated, true,
       {Role::FfnDownBias, "mlp.down_proj.bias"}},
      {Role::FfnPostNorm, "post_ffw_norm.weight", true, {S::Dim}, P::Replicated, true,
       {Role::FfnPostNorm, "post_feedforward_layernorm.weight"}},
      // MoE (gpt-oss; kernels/moe.hpp). Whole tensors on every rank: the MoE layer cuts its own
      // slices (expert rows or whole experts, see moe.hpp), since a 3-D tensor is cut per expert.
      {Role::FfnGateInp, "ffn_gate_inp.weight", true, {S::Dim, S::Experts}, P::Replicated, false,
       {Role::FfnGateInp, "mlp.router.weight"}},
      {Role::FfnGateInpBias, "ffn_gate_inp.bias", true, {S::Experts}, P::Replicated, true,
       {Role::FfnGateInpBias, "mlp.router.bias"}},
      {Role::FfnGateExps, "ffn_gate_exps.weight", true, {S::Dim, S::ExpertFfn, S::Experts}, P::Replicated, false,
       {Role::FfnGateExps, "mlp.experts.gate_up_proj", HfPick::EvenRows, HfForm::Mxfp4Pair}},
      {Role::FfnUpExps, "ffn_up_exps.weight", true, {S::Dim, S::ExpertFfn, S::Experts}, P::Replicated, false,
       {Role::FfnUpExps, "mlp.experts.gate_up_proj", HfPick::OddRows, HfForm::Mxfp4Pair}},
      {Role::FfnDownExps, "ffn_down_exps.weight", true, {S::ExpertFfn, S::Dim, S::Experts}, P::Replicated, false,
       {Role::FfnDownExps, "mlp.experts.down_proj", HfPick::Whole, HfForm::Mxfp4Pair}},
      {Role::FfnGateExpsBias, "ffn_gate_exps.bias", true, {S::ExpertFfn, S::Experts}, P::Replicated, false,
       {Role::FfnGateExpsBias, "mlp.experts.gate_up_proj_bias", HfPick::EvenRows}},
      {Role::FfnUpExpsBias, "ffn_up_exps.bias", true, {S::ExpertFfn, S::Experts}, P::Replicated, false,
       {Role::FfnUpExpsBias, "mlp.experts.gate_up_proj_bias", HfPick::OddRows}},
      {Role::FfnDownExpsBias, "ffn_down_exps.bias", true, {S::Dim, S::Experts}, P::Replicated, false,
       {Role::FfnDownExpsBias, "mlp.experts.down_proj_bias"}},
  };
  return roles;
}

// The hyper-parameter keys every architecture here reads (after "<arch>.").
std::vector<std::string> common_keys() {
  return {"context_length", "embedding_length", "block_count", "feed_forward_length", "vocab_size",
          "attention.head_count", "attention.head_count_kv", "attention.layer_norm_rms_epsilon",
          "attention.key_length", "attention.value_length", "rope.dimension_count", "rope.freq_base",
          "rope.scaling.type", "rope.scaling.factor", "rope.scaling.original_context_length",
          "rope.scaling.finetuned", "rope.scaling.attn_factor", "rope.scaling.yarn_ext_factor",
          "rope.scaling.yarn_attn_factor", "rope.scaling.yarn_beta_fast", "rope.scaling.yarn_beta_slow",
          "rope.scaling.yarn_log_multiplier"};
}

std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The Llama block; other dense architectures are edits of it.
std::vector<RoleUse> llama_roles() {
  return {{Role::TokenEmbd, true},   {Role::OutputNorm, true},   {Role::Output, false},
          {Role::RopeFreqs, false},  {Role::AttnNorm, true},     {Role::AttnQ, true},
          {Role::AttnK, true},       {Role::AttnV, true},        {Role::AttnQBias, false},
          {Role::AttnKBias, false},  {Role::AttnVBias, false},   {Role::AttnOut, true},
          {Role::AttnOutBias, false}, {Role::FfnNorm, true},     {Role::FfnGate, true},
          {Role::FfnUp, true},       {Role::FfnDown, true},      {Role::FfnGateBias, false},
          {Role::FfnUpBias, false},  {Role::FfnDownBias, false}};
}

// Gemma 2/3 checkpoints: four norms per layer (post_attention_layernorm is the attention output's
// norm there, pre_feedforward_layernorm the FFN's input norm), all stored as w - 1, tied output.
HfConventions gemma_hf() {
  HfConventions h;
  h.renames = {{Role::FfnNorm, "pre_feedforward_layernorm.weight"}};
  h.norm_plus_one = true;
  h.tied_default = true;
  h.fixed = {{"hidden_activation", "\"gelu_pytorch_tanh\""}};
  return h;
}

std::vector<ArchDesc> make_tables() {
  std::vector<ArchDesc> t;
  {
    ArchDesc a{"llama", llama_roles(), common_keys(), {}, {}};
    a.hf.classes = {"LlamaForCausalLM", "MistralForCausalLM"};
    a.hf.model_types = {"llama", "mistral"};
    a.hf.fixed = {{"hidden_act", "\"silu\""}};
    t.push_back(a);
    a.name = "mistral";  // GGUF files name it; HF checkpoints of Mistral convert to "llama"
    a.hf = {};
    t.push_back(a);
  }
  {  // Qwen2: biases on Q, K, V (always written by the converter), NEOX RoPE.
    ArchDesc a{"qwen2",
               {{Role::TokenEmbd, true}, {Role::OutputNorm, true}, {Role::Output, false}, {Role::AttnNorm, true},
                {Role::AttnQ, true}, {Role::AttnK, true}, {Role::AttnV, true}, {Role::AttnQBias, false},
                {Role::AttnKBias, false}, {Role::AttnVBias, false}, {Role::AttnOut, true}, {Role::FfnNorm, true},
                {Role::FfnGate, true}, {Role::FfnUp, true}, {Role::FfnDown, true}},
               common_keys(),
               {}, {}};
    a.recipe.rope = RopeLayout::Neox;
    a.hf.classes = {"Qwen2ForCausalLM"};
    a.hf.model_types = {"qwen2"};
    a.hf.fixed = {{"hidden_act", "\"silu\""}};
    t.push_back(a);
  }
  {  // Qwen3: per-head RMS norm of Q and K before RoPE, head_dim from attention.key_length.
    ArchDesc a{"qwen3",
               {{Role::TokenEmbd, true}, {Role::OutputNorm, true}, {Role::Output, false}, {Role::AttnNorm, true},
                {Role::AttnQ, true}, {Role::AttnK, true}, {Role::AttnV, true}, {Role::AttnQNorm, true},
                {Role::AttnKNorm, true}, {Role::AttnOut, true}, {Role::FfnNorm, true}, {Role::FfnGate, true},
                {Role::FfnUp, true}, {Role::FfnDown, true}},
               common_keys(),
               {}, {}};
    a.recipe.rope = RopeLayout::Neox;
    a.hf.classes = {"Qwen3ForCausalLM"};
    a.hf.model_types = {"qwen3"};
    a.hf.fixed = {{"hidden_act", "\"silu\""}};
    t.push_back(a);
  }
  {  // Gemma 2: GeGLU (tanh GELU), norms after attention and FFN too, sqrt(dim) embedding scale,
     // soft-capped attention scores and logits, a sliding window on every other layer. The norm
     // weights are used as stored: the converter already wrote Gemma's (1 + w).
    ArchDesc a{"gemma2",
               {{Role::TokenEmbd, true}, {Role::OutputNorm, true}, {Role::AttnNorm, true}, {Role::AttnQ, true},
                {Role::AttnK, true}, {Role::AttnV, true}, {Role::AttnOut, true}, {Role::AttnPostNorm, true},
                {Role::FfnNorm, true}, {Role::FfnGate, true}, {Role::FfnUp, true}, {Role::FfnDown, true},
                {Role::FfnPostNorm, true}},
               plus(common_keys(), {"attention.sliding_window", "attention.sliding_window_pattern",
                                    "attn_logit_softcapping", "final_logit_softcapping", "rope.freq_base_swa"}),
               {}, gemma_hf()};
    auto& r = a.recipe;
    r.act = Activation::GeluTanh;
    r.rope = RopeLayout::Neox;
    r.swa = SwaKind::Pattern;
    r.swa_pattern_default = 2;
    r.embed_scale_sqrt_dim = true;
    r.attn_softcap = true;
    r.attn_softcap_default = 50.0f;
    r.final_softcap = true;
    r.final_softcap_default = 30.0f;
    r.attn_scale = AttnScale::GemmaQueryPre;
    a.hf.classes = {"Gemma2ForCausalLM"};
    a.hf.model_types = {"gemma2"};
    t.push_back(a);  // no Output role: llama.cpp always reuses token_embd, so output.weight is refused
  }
  {  // Gemma 3: Gemma 2 without attention soft-capping, with QK-norm, 5 local layers of 6, local
     // layers with their own RoPE base (freq_base_swa, default 10000) and no RoPE scaling.
    ArchDesc a{"gemma3",
               {{Role::TokenEmbd, true}, {Role::OutputNorm, true}, {Role::Output, false}, {Role::AttnNorm, true},
                {Role::AttnQ, true}, {Role::AttnK, true}, {Role::AttnV, true}, {Role::AttnQNorm, true},
                {Role::AttnKNorm, true}, {Role::AttnOut, true}, {Role::AttnPostNorm, true}, {Role::FfnNorm, true},
                {Role::FfnGate, true}, {Role::FfnUp, true}, {Role::FfnDown, true}, {Role::FfnPostNorm, true}},
               plus(common_keys(), {"attention.sliding_window", "attention.sliding_window_pattern",
                                    "final_logit_softcapping", "rope.freq_base_swa"}),
               {}, gemma_hf()};
    auto& r = a.recipe;
    r.act = Activation::GeluTanh;
    r.rope = RopeLayout::Neox;
    r.swa = SwaKind::Pattern;
    r.swa_pattern_default = 6;
    r.swa_own_rope = true;
    r.embed_scale_sqrt_dim = true;
    r.final_softcap = true;  // only when final_logit_softcapping is present
    r.final_softcap_default = 0.0f;
    r.attn_scale = AttnScale::GemmaQueryPre;
    // The multimodal class too: its text model, under a language_model prefix (hf_checkpoint.cpp).
    a.hf.classes = {"Gemma3ForCausalLM", "Gemma3ForConditionalGeneration"};
    a.hf.model_types = {"gemma3_text", "gemma3"};
    a.hf.trim_vocab = true;
    t.push_back(a);
  }
  {  // gpt-oss (llama.cpp's openai-moe.cpp): biases on Q, K, V and the output projection, a
     // learned sink logit per head in every softmax, a sliding window on even layers (pattern 2),
     // NEOX RoPE (usually YaRN-scaled), post_attention_norm as the norm before the MoE FFN, top-k
     // routing with softmax over the chosen experts, the clamped SwiGLU, separate output matrix.
    ArchDesc a{"gpt-oss",
               {{Role::TokenEmbd, true}, {Role::OutputNorm, true}, {Role::Output, true}, {Role::AttnNorm, true},
                {Role::AttnQ, true}, {Role::AttnK, true}, {Role::AttnV, true}, {Role::AttnQBias, false},
                {Role::AttnKBias, false}, {Role::AttnVBias, false}, {Role::AttnOut, true},
                {Role::AttnOutBias, true}, {Role::AttnSinks, true}, {Role::AttnPostNorm, true},
                {Role::FfnGateInp, true}, {Role::FfnGateInpBias, true}, {Role::FfnGateExps, true},
                {Role::FfnUpExps, true}, {Role::FfnDownExps, true}, {Role::FfnGateExpsBias, true},
                {Role::FfnUpExpsBias, true}, {Role::FfnDownExpsBias, true}},
               plus(common_keys(), {"expert_count", "expert_used_count", "expert_feed_forward_length",
                                    "attention.sliding_window", "attention.sliding_window_pattern",
                                    "rope.freq_base_swa"}),
               {}, {}};
    auto& r = a.recipe;
    r.rope = RopeLayout::Neox;
    r.ffn = FfnKind::Moe;
    r.swa = SwaKind::Pattern;
    r.swa_pattern_default = 2;
    r.swa_required = true;
    r.attn_sinks = true;
    a.hf.classes = {"GptOssForCausalLM"};
    a.hf.model_types = {"gpt_oss"};
    a.hf.fixed = {{"swiglu_limit", "7.0"}};  // and the SwiGLU's alpha 1.702, which config.json does not name
    t.push_back(a);
  }
  return t;
}

const std::vector<ArchDesc>& tables() {
  static const std::vector<ArchDesc> t = make_tables();
  return t;
}

}  // namespace

const RoleInfo& role_info(Role r) {
  const RoleInfo& info = catalogue()[static_cast<size_t>(r)];
  if (info.role != r) throw Error("internal: role catalogue out of order");
  return info;
}

const ArchDesc* find_architecture(const std::string& name) {
  for (const ArchDesc& a : tables())
    if (name == a.name) return &a;
  return nullptr;
}

std::string known_architectures() {
  std::string s;
  for (const ArchDesc& a : tables()) s += (s.empty() ? "" : ", ") + std::string(a.name);
  return s;
}

const ArchDesc* find_hf_architecture(const std::string& hf_class, const std::string& model_type) {
  for (const ArchDesc& a : tables())
    for (const std::string& c : hf_class.empty() ? a.hf.model_types : a.hf.classes)
      if (c == (hf_class.empty() ? model_type : hf_class)) return &a;
  return nullptr;
}

std::string known_hf_classes() {
  std::string s;
  for (const ArchDesc& a : tables())
    for (const std::string& c : a.hf.classes) s += (s.empty() ? "" : ", ") + c;
  return s;
}

std::vector<HfName> hf_tensor_names(const ArchDesc& a) {
  std::vector<HfName> out;
  for (const RoleUse& u : a.roles) {
    HfName n = role_info(u.role).hf;
    for (const HfName& r : a.hf.renames)
      if (r.role == u.role) n = r;
    if (n.hf) out.push_back(n);
  }
  return out;
}

// config.json -> GGUF, for the values copied as they are; those with defaults, derived values
// and RoPE scaling are written by hf_checkpoint.cpp itself.
const std::vector<HfConfigKey>& hf_config_keys() {
  using K = HfKeyKind;
  static const std::vector<HfConfigKey> keys = {
      {"hidden_size", "embedding_length", K::Uint},
      {"intermediate_size", "feed_forward_length", K::Uint},
      {"intermediate_size", "expert_feed_forward_length", K::Uint},  // gpt-oss: per expert
      {"num_attention_heads", "attention.head_count", K::Uint},
      {"head_dim", "attention.key_length", K::Uint},
      {"head_dim", "attention.value_length", K::Uint},
      {"sliding_window", "attention.sliding_window", K::Uint},
      {"attn_logit_softcapping", "attn_logit_softcapping", K::Float},
      {"final_logit_softcapping", "final_logit_softcapping", K::Float},
      {"num_local_experts", "expert_count", K::Uint},
      {"num_experts_per_tok", "expert_used_count", K::Uint},
  };
  return keys;
}

std::string role_tensor_name(Role r, int layer) {
  const RoleInfo& info = role_info(r);
  return info.per_layer ? "blk." + std::to_string(layer) + "." + info.name : std::string(info.name);
}

}  // namespace sci_infer
