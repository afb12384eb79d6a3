// HF checkpoint tensors -> the GGUF view's tensors (see hf_tensor_map.hpp).
#include "model/hf_tensor_map.hpp"

#include "sci_infer/error.hpp"
#include "sci_infer/tensor_types.hpp"

#include <sys/mman.h>

#include <cstring>
#include <map>
#include <set>

namespace sci_infer {
namespace {

const char kLayers[] = "model.layers.";

bool starts_with(const std::string& s, const char* p) { return s.compare(0, std::strlen(p), p) == 0; }
bool ends_with(const std::string& s, const char* p) {
  const size_t n = std::strlen(p);
  return s.size() >= n && s.compare(s.size() - n, n, p) == 0;
}

std::string shape_text(const std::vector<uint64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

// The name as a text-only checkpoint has it: a multimodal model's text tower under
// language_model (Gemma 3) loses that prefix; "" for a tensor the converter drops too (the
// vision tower and projector, rotary inv_freq buffers, recomputed from config.json).
std::string canonical_name(const std::string& hf) {
  if (starts_with(hf, "language_model.")) return canonical_name(hf.substr(std::strlen("language_model.")));
  if (starts_with(hf, "model.language_model.")) return "model." + hf.substr(std::strlen("model.language_model."));
  for (const char* drop : {"vision_tower.", "multi_modal_projector.", "model.vision_tower.", "model.multi_modal_projector."})
    if (starts_with(hf, drop)) return "";
  if (ends_with(hf, ".rotary_emb.inv_freq")) return "";
  return hf;
}

// "model.layers.N.rest" -> (N, rest); layer -1 for a name outside the layers.
bool split_layer(const std::string& name, int& layer, std::string& rest) {
  layer = -1;
  rest = name;
  if (!starts_with(name, kLayers)) return true;
  const size_t b = std::strlen(kLayers), dot = name.find('.', b);
  const std::string n = dot == std::string::npos ? "" : name.substr(b, dot - b);
  if (n.empty() || n.size() > 6 || n.find_first_not_of("0123456789") != std::string::npos) return false;
  layer = std::stoi(n);
  rest = name.substr(dot + 1);
  return true;
}

GgmlType float_type(const HfTensor& h) {
  const std::string& d = h.t->dtype;
  if (d == "F32") return GgmlType::F32;
  if (d == "F16") return GgmlType::F16;
  if (d == "BF16") return GgmlType::BF16;
  throw Error(h.file + ": tensor '" + h.t->name + "' has dtype " + d + ", not supported (BF16, F16, F32" +
              (d == "U8" ? "; U8 only as an MXFP4 _blocks/_scales pair" : "") + ")");
}

// The rows of HF dim 1 that `pick` (EvenRows or OddRows) selects, as bytes.
std::vector<uint8_t> pick_rows(const HfTensor& h, HfPick pick, uint64_t elem_bytes) {
  const std::vector<uint64_t>& s = h.t->shape;
  const uint64_t n = h.t->n_elements * elem_bytes;
  if (s.size() < 2 || s[1] % 2 != 0)
    throw Error(h.file + ": tensor '" + h.t->name + "' " + shape_text(s) +
                " should interleave two tensors along dimension 1 (an even size there)");
  const uint64_t inner = n / (s[0] * s[1]);
  std::vector<uint8_t> out(n / 2);
  uint8_t* o = out.data();
  for (uint64_t i = 0; i < s[0]; ++i)
    for (uint64_t r = pick == HfPick::EvenRows ? 0 : 1; r < s[1]; r += 2, o += inner)
      std::memcpy(o, h.data + (i * s[1] + r) * inner, inner);
  return out;
}

// block_mxfp4 {e8m0 scale; 16 bytes: element j in the low nibble of byte j, element j + 16 in
// its high nibble} from HF's scales [d0, rows, nb] and blocks [d0, rows, nb, 16], whose byte k
// holds elements 2k (low nibble) and 2k + 1 (high): the rows `pick` selects, in order. The scale
// byte and the 4-bit codes are the same values on both sides; only the nibbles move.
void pack_mxfp4(const uint8_t* blocks, const uint8_t* scales, uint64_t d0, uint64_t rows, uint64_t nb, HfPick pick,
                uint8_t* out) {
  const uint64_t step = pick == HfPick::Whole ? 1 : 2, first = pick == HfPick::OddRows ? 1 : 0;
  for (uint64_t i = 0; i < d0; ++i)
    for (uint64_t r = first; r < rows; r += step)
      for (uint64_t b = 0; b < nb; ++b, out += 17) {
        const uint64_t blk = (i * rows + r) * nb + b;
        const uint8_t* q = blocks + blk * 16;
        auto code = [&](int e) { return uint8_t(e % 2 == 0 ? q[e / 2] & 0x0F : q[e / 2] >> 4); };
        out[0] = scales[blk];
        for (int j = 0; j < 16; ++j) out[1 + j] = uint8_t(code(j) | (code(j + 16) << 4));
      }
}

}  // namespace

void HfTensorTable::add(GgufTensorInfo t, const std::string& hf, const std::string& file) {
  tensors.push_back(std::move(t));
  hf_names.push_back(hf);
  hf_files.push_back(file);
}

void HfTensorTable::add_owned(GgufTensorInfo t, const void* bytes, uint64_t n, const std::string& hf,
                              const std::string& file) {
  const uint64_t at = (owned.size() + 31) / 32 * 32;
  owned.resize(at + n);
  std::memcpy(owned.data() + at, bytes, n);
  t.source = owned_source;
  t.offset = at;
  add(std::move(t), hf, file);
}

HfTensorTable map_hf_tensors(const ArchDesc& a, const std::vector<HfTensor>& tensors, uint32_t owned_source,
                             uint64_t vocab_keep) {
  // The table's names: per-layer ones by their suffix, global ones by their whole name.
  std::multimap<std::string, HfName> plain, pairs;
  for (const HfName& n : hf_tensor_names(a)) (n.form == HfForm::Mxfp4Pair ? pairs : plain).emplace(n.hf, n);
  HfTensorTable out;
  out.owned_source = owned_source;
  // MXFP4 halves, by (layer, base name), completed after the scan.
  std::map<std::pair<int, std::string>, std::pair<const HfTensor*, const HfTensor*>> halves;

  for (const HfTensor& h : tensors) {
    const std::string name = canonical_name(h.t->name);
    if (name.empty()) continue;
    int layer;
    std::string rest;
    if (!split_layer(name, layer, rest))
      throw Error(h.file + ": tensor '" + h.t->name + "': '" + name + "' does not name a layer number");
    for (const char* half : {"_blocks", "_scales"}) {
      if (!ends_with(rest, half)) continue;
      const std::string base = rest.substr(0, rest.size() - 7);
      if (!pairs.count(base) || layer < 0) break;
      auto& slot = halves[{layer, base}];
      (half[1] == 'b' ? slot.first : slot.second) = &h;
      rest.clear();
    }
    if (rest.empty()) continue;
    const auto range = plain.equal_range(rest);
    if (range.first == range.second) {
      if (pairs.count(rest))
        throw Error(h.file + ": tensor '" + h.t->name + "' is stored unquantized; " + a.name +
                    " checkpoints are read with their experts in MXFP4 (" + h.t->name + "_blocks / _scales)");
      throw Error(h.file + ": tensor '" + h.t->name + "' has no GGUF name for architecture " + a.name +
                  " (not a tensor of a " + a.name + " checkpoint)");
    }
    for (auto it = range.first; it != range.second; ++it) {
      const HfName& n = it->second;
      const RoleInfo& info = role_info(n.role);
      if (info.per_layer != (layer >= 0)) throw Error(h.file + ": tensor '" + h.t->name + "' is not where a " + a.name + " checkpoint has it");
      const GgmlType type = float_type(h);
      const std::vector<uint8_t> rows = n.pick == HfPick::Whole ? std::vector<uint8_t>() : pick_rows(h, n.pick, ggml_block_bytes(type));
      GgufTensorInfo t;
      t.name = role_tensor_name(n.role, layer);
      t.ne.assign(h.t->shape.rbegin(), h.t->shape.rend());
      if (t.ne.empty()) t.ne = {1};
      if (n.pick != HfPick::Whole) t.ne[t.ne.size() - 2] /= 2;
      const bool is_norm = ends_with(t.name, "norm.weight");
      // F32 copies where the converter writes F32 (TextModel.prepare_tensors): vectors, norms, every
      // tensor not named *.weight (biases, gpt-oss' 2-D expert biases too) and the MoE router.
      if (t.ne.size() <= 1 || is_norm || !ends_with(t.name, ".weight") || n.role == Role::FfnGateInp) {
        std::vector<float> v(n.pick == HfPick::Whole ? h.t->n_elements : h.t->n_elements / 2);
        decode_row(type, rows.empty() ? h.data : rows.data(), v.data(), v.size());
        if (a.hf.norm_plus_one && is_norm)  // the converter's + 1: in F16 for F16 data, in F32 for BF16
          for (float& x : v) x = type == GgmlType::F16 ? fp16_to_f32(f32_to_fp16(x + 1.0f)) : x + 1.0f;
        t.type = GgmlType::F32;
        out.add_owned(std::move(t), v.data(), v.size() * 4, h.t->name, h.file);
        continue;
      }
      t.type = type;
      if (n.role == Role::TokenEmbd && vocab_keep > 0 && vocab_keep < t.ne[1]) t.ne[1] = vocab_keep;
      if (!rows.empty()) {
        out.add_owned(std::move(t), rows.data(), rows.size(), h.t->name, h.file);
        continue;
      }
      t.source = h.source;  // in place: the mapped file's bytes
      t.offset = h.offset;
      out.add(std::move(t), h.t->name, h.file);
    }
  }

  for (const auto& hv : halves) {
    const int layer = hv.first.first;
    const std::string hf = kLayers + std::to_string(layer) + "." + hv.first.second;
    const HfTensor *blk = hv.second.first, *sc = hv.second.second;
    if (!blk || !sc)
      throw Error((blk ? blk : sc)->file + ": tensor '" + (blk ? blk : sc)->t->name + "' has no " +
                  (blk ? "_scales" : "_blocks") + " partner (" + hf + (blk ? "_scales" : "_blocks") + ")");
    std::vector<uint64_t> want = blk->t->shape;
    if (blk->t->dtype != "U8" || sc->t->dtype != "U8" || want.size() < 3 || want.back() != 16)
      throw Error(blk->file + ": tensor '" + blk->t->name + "' " + blk->t->dtype + " " + shape_text(blk->t->shape) +
                  " / '" + sc->t->name + "' " + sc->t->dtype + " " + shape_text(sc->t->shape) +
                  ": an MXFP4 pair is U8 [..., rows, K/32, 16] blocks and U8 [..., rows, K/32] scales");
    want.pop_back();
    if (sc->t->shape != want)
      throw Error(sc->file + ": tensor '" + sc->t->name + "' is " + shape_text(sc->t->shape) + " but its blocks '" +
                  blk->t->name + "' " + shape_text(blk->t->shape) + " need scales " + shape_text(want));
    const uint64_t nb = want[want.size() - 1], rows = want[want.size() - 2];
    const uint64_t d0 = blk->t->n_elements / (16 * nb * rows);
    for (auto it = pairs.lower_bound(hv.first.second); it != pairs.upper_bound(hv.first.second); ++it) {
      const HfName& n = it->second;
      if (n.pick != HfPick::Whole && rows % 2 != 0)
        throw Error(blk->file + ": tensor '" + blk->t->name + "' " + shape_text(blk->t->shape) +
                    " should interleave two tensors along its rows (an even count)");
      GgufTensorInfo t;
      t.name = role_tensor_name(n.role, layer);
      t.ne.assign(want.rbegin(), want.rend());  // [K/32, rows, ...]
      t.ne[0] *= 32;
      if (n.pick != HfPick::Whole) t.ne[1] /= 2;
      t.type = GgmlType::MXFP4;
      // Repacked when first read, not now: the view holds no copy (GgufFile::kDerivedSource).
      // Then the checkpoint's pages it read leave this process, as a GGUF tensor's do once packed.
      out.derived[t.name] = [bp = blk->data, sp = sc->data, d0, rows, nb, pick = n.pick, br = blk->region,
                               sr = sc->region](uint8_t* dst) {
        pack_mxfp4(bp, sp, d0, rows, nb, pick, dst);
        if (br) br->advise(bp, d0 * rows * nb * 16, MADV_DONTNEED);
        if (sr) sr->advise(sp, d0 * rows * nb, MADV_DONTNEED);
      };
      t.source = GgufFile::kDerivedSource;
      out.add(std::move(t), hf + "_blocks", blk->file);
    }
  }
  return out;
}

void check_hf_tensors(const ArchDesc& a, const HfTensorTable& t, const HfSizes& sizes, uint64_t layers,
                      const std::string& config_path, const std::string& dir) {
  std::map<std::string, size_t> by_gguf;
  for (size_t i = 0; i < t.tensors.size(); ++i) by_gguf.emplace(t.tensors[i].name, i);
  for (const HfName& n : hf_tensor_names(a)) {
    const RoleInfo& info = role_info(n.role);
    bool required = false;
    for (const RoleUse& u : a.roles)
      if (u.role == n.role) required = u.required;
    for (uint64_t l = 0; l < (info.per_layer ? layers : 1); ++l) {
      const std::string hf = info.per_layer ? kLayers + std::to_string(l) + "." + n.hf : std::string(n.hf);
      const auto it = by_gguf.find(role_tensor_name(n.role, int(l)));
      if (it == by_gguf.end()) {
        if (required)
          throw Error(dir + ": tensor '" + hf + (n.form == HfForm::Mxfp4Pair ? "_blocks" : "") +
                      "' is missing from the checkpoint");
        continue;
      }
      const GgufTensorInfo& g = t.tensors[it->second];
      std::vector<uint64_t> want;
      std::string because;
      std::set<int> said;
      for (Size s : info.shape) {
        const int k = static_cast<int>(s);
        want.push_back(sizes.value[k]);
        if (said.insert(k).second) because += (because.empty() ? "" : ", ") + sizes.because[k];
      }
      if (g.ne != want) {
        const std::vector<uint64_t> hf_want(want.rbegin(), want.rend()), hf_got(g.ne.rbegin(), g.ne.rend());
        throw Error(config_path + ": " + because + " say" + (said.size() == 1 ? "s" : "") + " tensor '" +
                    t.hf_names[it->second] + "' is " + shape_text(hf_want) + " but " + t.hf_files[it->second] + " holds " +
                    shape_text(hf_got) + (g.type == GgmlType::MXFP4 ? " (MXFP4 elements)" : ""));
      }
    }
  }
}

}  // namespace sci_infer
