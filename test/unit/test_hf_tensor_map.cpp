// HF checkpoint tensors -> GGUF view tensors (model/hf_tensor_map.hpp): the table's HF names,
// the gate/up row split and the MXFP4 repack, checked against the OCP MX spec's element values.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "model/architecture.hpp"
#include "model/hf_tensor_map.hpp"
#include "sci_infer/error.hpp"
#include "sci_infer/tensor_types.hpp"

using namespace sci_infer;
using Catch::Matchers::Contains;

namespace {

// FP4 E2M1 (OCP Microscaling Formats v1.0, section 5.3.3): sign, 2 exponent bits, 1 mantissa bit.
float fp4_e2m1(uint8_t code) {
  static const float mag[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  return (code & 8 ? -1.0f : 1.0f) * mag[code & 7];
}

SafetensorsTensor st(const std::string& name, const std::string& dtype, std::vector<uint64_t> shape) {
  SafetensorsTensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = shape;
  t.n_elements = 1;
  for (uint64_t d : shape) t.n_elements *= d;
  return t;
}

}  // namespace

TEST_CASE("every architecture's HF names are distinct, and each HF class finds its architecture", "[hf][arch]") {
  for (const char* name : {"llama", "qwen2", "qwen3", "gemma2", "gemma3", "gpt-oss"}) {
    const ArchDesc* a = find_architecture(name);
    REQUIRE(a != nullptr);
    std::set<std::pair<std::string, int>> seen;
    for (const HfName& n : hf_tensor_names(*a)) {
      INFO(name << ": " << n.hf);
      CHECK(seen.insert({n.hf, static_cast<int>(n.pick)}).second);
    }
    for (const std::string& c : a->hf.classes) CHECK(find_hf_architecture(c, "") == a);
    for (const std::string& t : a->hf.model_types) CHECK(find_hf_architecture("", t) == a);
  }
  CHECK(find_hf_architecture("FalconForCausalLM", "") == nullptr);
  // Gemma's pre-FFN norm is pre_feedforward_layernorm; llama's is post_attention_layernorm.
  auto ffn_norm = [](const char* arch) {
    for (const HfName& n : hf_tensor_names(*find_architecture(arch)))
      if (n.role == Role::FfnNorm) return std::string(n.hf);
    return std::string();
  };
  CHECK(ffn_norm("llama") == "post_attention_layernorm.weight");
  CHECK(ffn_norm("gemma2") == "pre_feedforward_layernorm.weight");
}

TEST_CASE("gpt-oss experts: gate_up rows split even/odd, MXFP4 pairs repacked to the spec's values", "[hf][moe]") {
  const ArchDesc& a = *find_architecture("gpt-oss");
  const uint64_t E = 2, R = 4, NB = 2;  // experts, gate_up rows (2 x ffn 2), K/32 blocks per row
  std::vector<uint8_t> blocks(E * R * NB * 16), scales(E * R * NB);
  for (size_t i = 0; i < blocks.size(); ++i) blocks[i] = uint8_t((i * 37 + 11) & 0xFF);
  for (size_t i = 0; i < scales.size(); ++i) scales[i] = uint8_t(120 + i % 9);
  std::vector<float> bias(E * R);
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = float(i) + 0.25f;
  const SafetensorsTensor tb = st("model.layers.0.mlp.experts.gate_up_proj_blocks", "U8", {E, R, NB, 16});
  const SafetensorsTensor ts = st("model.layers.0.mlp.experts.gate_up_proj_scales", "U8", {E, R, NB});
  const SafetensorsTensor tbias = st("model.layers.0.mlp.experts.gate_up_proj_bias", "F32", {E, R});
  const std::vector<HfTensor> in = {{&tb, 0, 0, blocks.data(), "a.safetensors"},
                                    {&ts, 0, 0, scales.data(), "a.safetensors"},
                                    {&tbias, 0, 0, reinterpret_cast<const uint8_t*>(bias.data()), "a.safetensors"}};
  const HfTensorTable t = map_hf_tensors(a, in, 1, 0);
  auto find = [&](const std::string& n) -> const GgufTensorInfo& {
    for (const GgufTensorInfo& g : t.tensors)
      if (g.name == n) return g;
    FAIL("no tensor " << n);
    return t.tensors[0];
  };
  for (int up = 0; up < 2; ++up) {
    const GgufTensorInfo& w = find(up ? "blk.0.ffn_up_exps.weight" : "blk.0.ffn_gate_exps.weight");
    REQUIRE(w.type == GgmlType::MXFP4);
    REQUIRE(w.ne == std::vector<uint64_t>{NB * 32, R / 2, E});
    REQUIRE(w.source == GgufFile::kDerivedSource);  // repacked when read, not held by the view
    std::vector<uint8_t> packed(E * (R / 2) * NB * 17);
    t.derived.at(w.name)(packed.data());
    std::vector<float> got(NB * 32);
    for (uint64_t e = 0; e < E; ++e)
      for (uint64_t r = 0; r < R / 2; ++r) {
        const uint64_t hf_row = 2 * r + up;  // the interleaved HF row this GGUF row comes from
        decode_row(GgmlType::MXFP4, packed.data() + (e * (R / 2) + r) * NB * 17, got.data(), NB * 32);
        for (uint64_t k = 0; k < NB * 32; ++k) {
          const uint64_t blk = (e * R + hf_row) * NB + k / 32, i = k % 32;
          const uint8_t byte = blocks[blk * 16 + i / 2];
          const float want = fp4_e2m1(i % 2 == 0 ? byte & 0x0F : byte >> 4) * std::ldexp(1.0f, int(scales[blk]) - 127);
          INFO("up " << up << " expert " << e << " row " << r << " k " << k);
          REQUIRE(got[k] == want);
        }
      }
    const GgufTensorInfo& b = find(up ? "blk.0.ffn_up_exps.bias" : "blk.0.ffn_gate_exps.bias");
    REQUIRE(b.ne == std::vector<uint64_t>{R / 2, E});
    const float* bv = reinterpret_cast<const float*>(t.owned.data() + b.offset);
    for (uint64_t e = 0; e < E; ++e)
      for (uint64_t r = 0; r < R / 2; ++r) CHECK(bv[e * (R / 2) + r] == bias[e * R + 2 * r + up]);
  }

  // A half without its partner, and scales of the wrong shape, are refused by name.
  const std::vector<HfTensor> lone = {in[0]};
  CHECK_THROWS_WITH(map_hf_tensors(a, lone, 1, 0), Contains("gate_up_proj_blocks") && Contains("_scales partner"));
  const SafetensorsTensor bad = st("model.layers.0.mlp.experts.gate_up_proj_scales", "U8", {E, R, NB + 1});
  const std::vector<HfTensor> mis = {in[0], {&bad, 0, 0, scales.data(), "b.safetensors"}};
  CHECK_THROWS_WITH(map_hf_tensors(a, mis, 1, 0), Contains("b.safetensors") && Contains("gate_up_proj_scales"));
  // Experts stored unquantized are named as such.
  const SafetensorsTensor plain = st("model.layers.0.mlp.experts.down_proj", "BF16", {E, 64, 64});
  std::vector<uint8_t> zeros(E * 64 * 64 * 2);
  const std::vector<HfTensor> unq = {{&plain, 0, 0, zeros.data(), "c.safetensors"}};
  CHECK_THROWS_WITH(map_hf_tensors(a, unq, 1, 0), Contains("c.safetensors") && Contains("unquantized"));
}

TEST_CASE("a derived tensor is computed when read, freed when its last hold is released, recomputed after", "[hf][gguf]") {
  int fills = 0;
  GgufTensorInfo t;
  t.name = "blk.0.ffn_down_exps.weight";
  t.ne = {32, 2, 1};
  t.type = GgmlType::F32;
  t.source = GgufFile::kDerivedSource;
  std::map<std::string, GgufFile::DeriveBytes> derived;
  derived[t.name] = [&](uint8_t* dst) {
    ++fills;
    for (int i = 0; i < 64; ++i) reinterpret_cast<float*>(dst)[i] = float(i);
  };
  auto f = GgufFile::assemble("view", {}, {t}, {}, derived);
  CHECK(fills == 0);  // nothing computed at open
  const GgufTensorInfo& info = f->tensor(t.name);
  CHECK(info.n_bytes == 64 * 4);
  const uint8_t* a = f->tensor_data(info);
  const uint8_t* b = f->tensor_data(info);  // a second reader: one computation, two holds
  CHECK(fills == 1);
  CHECK(a == b);
  CHECK(reinterpret_cast<const float*>(a)[63] == 63.0f);
  f->release_resident_pages(a, info.n_bytes);
  CHECK(reinterpret_cast<const float*>(b)[5] == 5.0f);  // still held by the second reader
  f->release_resident_pages(b, info.n_bytes);           // last hold: freed
  const uint8_t* c = f->tensor_data(info);
  CHECK(fills == 2);
  CHECK(reinterpret_cast<const float*>(c)[7] == 7.0f);
  // A derived tensor without its function is refused.
  CHECK_THROWS_WITH(GgufFile::assemble("view", {}, {t}, {}, {}), Contains("derived"));
}
