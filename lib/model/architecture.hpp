#pragma once
// One declarative description per model architecture (in the spirit of llama.cpp's
// llama-arch.cpp): which tensors a GGUF file of that architecture holds, under which names and
// shapes, how tensor parallelism splits each; which hyper-parameter keys it has; and the recipe
// every layer follows. The loader (model.cpp), the shard layout, the weight packing and the
// forward pass all read these tables; adding an architecture means adding a table
// (arch_table.cpp) and, only where its math is new, a kernel.
#include <cstdint>
#include <string>
#include <vector>

namespace sci_infer {

// Every tensor role any architecture has. The GGUF name, shape and split of a role are the same
// in every architecture (llama.cpp's LLM_TENSOR_INFOS); an architecture says which roles it has.
enum class Role : int {
  TokenEmbd, OutputNorm, Output, RopeFreqs,  // global
  AttnNorm, AttnQ, AttnK, AttnV, AttnQBias, AttnKBias, AttnVBias, AttnQNorm, AttnKNorm, AttnOut, AttnOutBias,
  AttnPostNorm, AttnSinks, FfnNorm, FfnGate, FfnUp, FfnDown, FfnGateBias, FfnUpBias, FfnDownBias, FfnPostNorm,
  FfnGateInp, FfnGateInpBias, FfnGateExps, FfnUpExps, FfnDownExps, FfnGateExpsBias, FfnUpExpsBias, FfnDownExpsBias,
  kCount
};
constexpr int kRoleCount = static_cast<int>(Role::kCount);

// A size a tensor's dimension is given in, resolved against the model's hyper-parameters.
enum class Size : uint8_t { Vocab, Dim, QDim, KvDim, HeadDim, Heads, Ffn, RopeHalf, Experts, ExpertFfn };

// How tensor parallelism cuts a tensor (model/shard_layout.hpp):
//   Replicated  every rank holds it whole (norms, row-parallel biases, rope factors)
//   QHeadRows / KvHeadRows / FfnRows / VocabRows: this rank's rows (or, for a vector, elements)
//   QHeadCols / FfnCols: this rank's K columns of a row-parallel weight
enum class Split : uint8_t { Replicated, QHeadRows, KvHeadRows, FfnRows, VocabRows, QHeadCols, FfnCols };

// How a Hugging Face checkpoint stores a role (model/hf_checkpoint.cpp):
//   HfPick: the whole tensor, or the even / odd rows (dim 1 of the HF shape) of a tensor that
//           interleaves two roles (gpt-oss' gate_up_proj: gate = rows 0, 2, 4 ..., up = 1, 3, 5 ...)
//   HfForm: one tensor of the dtype named, or an MXFP4 pair `<hf>_blocks` (U8 [.., rows, K/32, 16])
//           + `<hf>_scales` (U8 [.., rows, K/32]) repacked into ggml's block_mxfp4 as
//           convert_hf_to_gguf.py does (gpt-oss experts)
enum class HfPick : uint8_t { Whole, EvenRows, OddRows };
enum class HfForm : uint8_t { Plain, Mxfp4Pair };
struct HfName {
  Role role;
  const char* hf;  // after "model.layers.N." for a per-layer role, the whole name for a global one
  HfPick pick = HfPick::Whole;
  HfForm form = HfForm::Plain;
};

struct RoleInfo {
  Role role;
  const char* name;     // GGUF name without "blk.N." ("attn_q.weight")
  bool per_layer;
  std::vector<Size> shape;  // ne[0] first
  Split split;
  bool norm_like;       // a 1-D F32 tensor (norms, biases, factors)
  HfName hf;            // the Hugging Face name most families use (hf == nullptr: none, e.g. computed)
};
const RoleInfo& role_info(Role r);

enum class NormKind : uint8_t { Rms };
enum class Activation : uint8_t { Silu, GeluTanh };
enum class RopeLayout : uint8_t { Norm, Neox };  // pairs (2i, 2i+1) or (i, i + head_dim/2)
enum class FfnKind : uint8_t { Dense, Moe };
// Layers that attend through a sliding window: none, or llama.cpp's pattern "N-1 of every N
// layers are local, the N-th global" (N from <arch>.attention.sliding_window_pattern, else the
// table's default).
enum class SwaKind : uint8_t { None, Pattern };
// Where the attention's scale applies: 1/sqrt(head_dim) inside the softmax (llama), or to Q
// before the dot product, as query_pre_attn_scalar^-1/2 (Gemma: llama.cpp derives the scalar
// from the model size, see arch_table.cpp).
enum class AttnScale : uint8_t { InSoftmax, GemmaQueryPre };

struct RoleUse {
  Role role;
  bool required;
};

struct ArchRecipe {
  NormKind norm = NormKind::Rms;
  Activation act = Activation::Silu;
  RopeLayout rope = RopeLayout::Norm;
  FfnKind ffn = FfnKind::Dense;
  SwaKind swa = SwaKind::None;
  uint32_t swa_pattern_default = 0;
  bool swa_required = false;          // sliding_window key must be present
  bool swa_own_rope = false;          // local layers: freq_base_swa (default 10000) and no scaling (gemma3)
  bool embed_scale_sqrt_dim = false;  // x = embedding * sqrt(dim) (Gemma)
  bool attn_softcap = false;          // scores = c * tanh(scores / c), c from attn_logit_softcapping
  float attn_softcap_default = 0.0f;
  bool final_softcap = false;         // logits = c * tanh(logits / c)
  float final_softcap_default = 0.0f;
  AttnScale attn_scale = AttnScale::InSoftmax;
  bool attn_sinks = false;            // a learned per-head logit joining every softmax (gpt-oss)
};

// How a Hugging Face checkpoint of the architecture reads (model/hf_checkpoint.cpp): which
// config.json names it, each role's tensor name where it differs from RoleInfo::hf, and the
// family's storage conventions. config.json keys map to the <arch>.* keys above through one
// shared table (hf_config_keys()): a key is written when the architecture lists it.
struct HfConventions {
  std::vector<std::string> classes;      // config.json "architectures"[0]
  std::vector<std::string> model_types;  // "model_type", when "architectures" is absent
  std::vector<HfName> renames;           // roles named differently in this family
  bool norm_plus_one = false;  // norms stored as w - 1 (Gemma): the view adds 1, as the converter does
  bool tied_default = false;   // tie_word_embeddings when config.json omits it
  bool trim_vocab = false;     // embedding rows past the token list dropped, as Gemma 3's converter does (hf_checkpoint.cpp)
  // config.json values the architecture's math fixes (llama.cpp reads no key for them), as JSON
  // text: {"swiglu_limit", "7.0"}. A checkpoint that says otherwise is refused, not run wrong.
  std::vector<std::pair<std::string, std::string>> fixed;
};

struct ArchDesc {
  const char* name;                 // general.architecture
  std::vector<RoleUse> roles;
  std::vector<std::string> keys;    // accepted <arch>.* metadata keys (suffix after "<arch>.")
  ArchRecipe recipe;
  HfConventions hf;
};

// nullptr when the architecture is unknown.
const ArchDesc* find_architecture(const std::string& name);
// The architecture whose HfConventions name `hf_class` (or, when that is empty, `model_type`);
// nullptr when none does.
const ArchDesc* find_hf_architecture(const std::string& hf_class, const std::string& model_type);
std::string known_hf_classes();  // "LlamaForCausalLM, ..." for messages
// Every role of `a` with its HF name (RoleInfo::hf unless a.hf.renames names it otherwise);
// roles with no HF form (rope_freqs: computed from config.json) are left out.
std::vector<HfName> hf_tensor_names(const ArchDesc& a);

// A plain config.json value copied to a GGUF key: config key, <arch>.* key suffix, kind.
enum class HfKeyKind : uint8_t { Uint, Float };
struct HfConfigKey {
  const char* config;
  const char* gguf;
  HfKeyKind kind;
};
const std::vector<HfConfigKey>& hf_config_keys();
std::string known_architectures();  // "llama, mistral, qwen2, ..." for messages

// The role a GGUF tensor name plays ("blk.3.attn_q.weight": AttnQ, layer 3; layer -1 for a
// global role); false when no role has that name.
bool parse_tensor_role(const std::string& name, Role& role, int& layer);

// ModelConfig::roles_present holds one bit per role.
inline bool role_present(uint64_t roles_present, Role r) { return (roles_present >> static_cast<int>(r)) & 1u; }

// The GGUF name of role r in layer `layer` (ignored for global roles).
std::string role_tensor_name(Role r, int layer);

}  // namespace sci_infer
