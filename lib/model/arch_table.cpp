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
      {Role::TokenEmbd, "token_embd.weight", false, {S::Dim, S::Vocab}, P::VocabRows, false},
      {Role::OutputNorm, "output_norm.weight", false, {S::Dim}, P::Replicated, true},
      {Role::Output, "output.weight", false, {S::Dim, S::Vocab}, P::VocabRows, false},
      {Role::RopeFreqs, "rope_freqs.weight", false, {S::RopeHalf}, P::Replicated, true},
      {Role::AttnNorm, "attn_norm.weight", true, {S::Dim}, P::Replicated, true},
      {Role::AttnQ, "attn_q.weight", true, {S::Dim, S::QDim}, P::QHeadRows, false},
      {Role::AttnK, "attn_k.weight", true, {S::Dim, S::KvDim}, P::KvHeadRows, false},
      {Role::AttnV, "attn_v.weight", true, {S::Dim, S::KvDim}, P::KvHeadRows, false},
      {Role::AttnQBias, "attn_q.bias", true, {S::QDim}, P::QHeadRows, true},
      {Role::AttnKBias, "attn_k.bias", true, {S::KvDim}, P::KvHeadRows, true},
      {Role::AttnVBias, "attn_v.bias", true, {S::KvDim}, P::KvHeadRows, true},
      {Role::AttnQNorm, "attn_q_norm.weight", true, {S::HeadDim}, P::Replicated, true},
      {Role::AttnKNorm, "attn_k_norm.weight", true, {S::HeadDim}, P::Replicated, true},
      {Role::AttnOut, "attn_output.weight", true, {S::QDim, S::Dim}, P::QHeadCols, false},
      // Row-parallel biases are added once, after the partial sums are combined: replicated.
      {Role::AttnOutBias, "attn_output.bias", true, {S::Dim}, P::Replicated, true},
      {Role::AttnPostNorm, "post_attention_norm.weight", true, {S::Dim}, P::Replicated, true},
      {Role::AttnSinks, "attn_sinks.weight", true, {S::Heads}, P::QHeadRows, true},
      {Role::FfnNorm, "ffn_norm.weight", true, {S::Dim}, P::Replicated, true},
      {Role::FfnGate, "ffn_gate.weight", true, {S::Dim, S::Ffn}, P::FfnRows, false},
      {Role::FfnUp, "ffn_up.weight", true, {S::Dim, S::Ffn}, P::FfnRows, false},
      {Role::FfnDown, "ffn_down.weight", true, {S::Ffn, S::Dim}, P::FfnCols, false},
      {Role::FfnGateBias, "ffn_gate.bias", true, {S::Ffn}, P::FfnRows, true},
      {Role::FfnUpBias, "ffn_up.bias", true, {S::Ffn}, P::FfnRows, true},
      {Role::FfnDownBias, "ffn_down.bias", true, {S::Dim}, P::Replicated, true},
      {Role::FfnPostNorm, "post_ffw_norm.weight", true, {S::Dim}, P::Replicated, true},
      // MoE (gpt-oss): described here so files name them, run by the moe kernels (not yet).
      {Role::FfnGateInp, "ffn_gate_inp.weight", true, {S::Dim, S::Experts}, P::Replicated, false},
      {Role::FfnGateInpBias, "ffn_gate_inp.bias", true, {S::Experts}, P::Replicated, true},
      {Role::FfnGateExps, "ffn_gate_exps.weight", true, {S::Dim, S::Ffn, S::Experts}, P::Replicated, false},
      {Role::FfnUpExps, "ffn_up_exps.weight", true, {S::Dim, S::Ffn, S::Experts}, P::Replicated, false},
      {Role::FfnDownExps, "ffn_down_exps.weight", true, {S::Ffn, S::Dim, S::Experts}, P::Replicated, false},
      {Role::FfnGateExpsBias, "ffn_gate_exps.bias", true, {S::Ffn, S::Experts}, P::Replicated, false},
      {Role::FfnUpExpsBias, "ffn_up_exps.bias", true, {S::Ffn, S::Experts}, P::Replicated, false},
      {Role::FfnDownExpsBias, "ffn_down_exps.bias", true, {S::Dim, S::Experts}, P::Replicated, false},
  };
  return roles;
}

// The hyper-parameter keys every architecture here reads (after "<arch>.").
std::vector<std::string> common_keys() {
  return {"context_length", "embedding_length", "block_count", "feed_forward_length", "vocab_size",
          "attention.head_count", "attention.head_count_kv", "attention.layer_norm_rms_epsilon",
          "attention.key_length", "attention.value_length", "rope.dimension_count", "rope.freq_base",
          "rope.scaling.type", "rope.scaling.factor", "rope.scaling.original_context_length",
          "rope.scaling.finetuned", "rope.scaling.attn_factor"};
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

std::vector<ArchDesc> make_tables() {
  std::vector<ArchDesc> t;
  {
    ArchDesc a{"llama", llama_roles(), common_keys(), {}};
    t.push_back(a);
    a.name = "mistral";
    t.push_back(a);
  }
  {  // Qwen2: biases on Q, K, V (always written by the converter), NEOX RoPE.
    ArchDesc a{"qwen2",
               {{Role::TokenEmbd, true}, {Role::OutputNorm, true}, {Role::Output, false}, {Role::AttnNorm, true},
                {Role::AttnQ, true}, {Role::AttnK, true}, {Role::AttnV, true}, {Role::AttnQBias, false},
                {Role::AttnKBias, false}, {Role::AttnVBias, false}, {Role::AttnOut, true}, {Role::FfnNorm, true},
                {Role::FfnGate, true}, {Role::FfnUp, true}, {Role::FfnDown, true}},
               common_keys(),
               {}};
    a.recipe.rope = RopeLayout::Neox;
    t.push_back(a);
  }
  {  // Qwen3: per-head RMS norm of Q and K before RoPE, head_dim from attention.key_length.
    ArchDesc a{"qwen3",
               {{Role::TokenEmbd, true}, {Role::OutputNorm, true}, {Role::Output, false}, {Role::AttnNorm, true},
                {Role::AttnQ, true}, {Role::AttnK, true}, {Role::AttnV, true}, {Role::AttnQNorm, true},
                {Role::AttnKNorm, true}, {Role::AttnOut, true}, {Role::FfnNorm, true}, {Role::FfnGate, true},
                {Role::FfnUp, true}, {Role::FfnDown, true}},
               common_keys(),
               {}};
    a.recipe.rope = RopeLayout::Neox;
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
               {}};
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
    r.output_always_tied = true;
    t.push_back(a);
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
               {}};
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

std::string role_tensor_name(Role r, int layer) {
  const RoleInfo& info = role_info(r);
  return info.per_layer ? "blk." + std::to_string(layer) + "." + info.name : std::string(info.name);
}

}  // namespace sci_infer
