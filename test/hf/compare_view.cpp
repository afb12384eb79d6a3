// hf_compare_view DIR GGUF: is the checkpoint directory's GGUF view what llama.cpp's converter
// wrote from it? Every tensor of GGUF must be in the view with the same name, ne and type, and
// the same bytes -- for llama's attn_q/attn_k the converter's row permutation undone (the view
// keeps HF's rotate-half order) -- and every metadata key of GGUF (but general.*, which name the
// conversion, tokenizer.ggml.scores, which the view derives from merge ranks, and
// tokenizer.ggml.add_sep_token, a pair-template detail nothing here reads) must be in
// the view with the same value. Prints each difference; exit 0 when there is none.
#include <cstdio>
#include <cstring>
#include <string>

#include "model/hf_checkpoint.hpp"
#include "sci_infer/gguf.hpp"

using namespace sci_infer;

namespace {

int problems = 0;
void problem(const std::string& s) {
  std::printf("DIFF %s\n", s.c_str());
  ++problems;
}

bool same_value(const GgufValue& a, const GgufValue& b) {
  auto is_int = [](GgufValueType t) {
    return t != GgufValueType::FLOAT32 && t != GgufValueType::FLOAT64 && t != GgufValueType::STRING &&
           t != GgufValueType::ARRAY && t != GgufValueType::BOOL;
  };
  if (a.type == GgufValueType::ARRAY || b.type == GgufValueType::ARRAY)
    return a.type == b.type && a.strings == b.strings && a.ints == b.ints && a.floats == b.floats;
  if (a.type == GgufValueType::STRING || b.type == GgufValueType::STRING) return a.type == b.type && a.s == b.s;
  if (a.type == GgufValueType::FLOAT32 || a.type == GgufValueType::FLOAT64) return float(a.f) == float(b.f);
  if (a.type == GgufValueType::BOOL || b.type == GgufValueType::BOOL) return a.u == b.u;
  if (is_int(a.type) && is_int(b.type)) {
    const int64_t x = a.type == GgufValueType::INT8 || a.type == GgufValueType::INT16 || a.type == GgufValueType::INT32 || a.type == GgufValueType::INT64 ? a.i : int64_t(a.u);
    const int64_t y = b.type == GgufValueType::INT8 || b.type == GgufValueType::INT16 || b.type == GgufValueType::INT32 || b.type == GgufValueType::INT64 ? b.i : int64_t(b.u);
    return x == y;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s CHECKPOINT_DIR CONVERTED.gguf\n", argv[0]);
    return 2;
  }
  try {
    auto view = open_hf_checkpoint(argv[1]);
    auto conv = GgufFile::open(argv[2]);
    for (const std::string& k : conv->metadata_keys()) {
      if (k.compare(0, 8, "general.") == 0 || k == "tokenizer.ggml.scores" || k == "tokenizer.ggml.add_sep_token") continue;
      if (!view->has(k)) problem("metadata " + k + " missing from the view");
      else if (!same_value(view->value(k), conv->value(k))) problem("metadata " + k + " differs");
    }
    const bool permuted = view->get_string_or("sci_infer.rope.layout", "") == "neox";
    const std::string arch = conv->get_string("general.architecture");
    const uint64_t heads = conv->get_uint(arch + ".attention.head_count"),
                   kv = conv->get_uint_or(arch + ".attention.head_count_kv", heads);
    int n = 0;
    for (const GgufTensorInfo& t : conv->tensors()) {
      const GgufTensorInfo* v = view->find_tensor(t.name);
      if (!v) { problem("tensor " + t.name + " missing from the view"); continue; }
      if (v->ne != t.ne || v->type != t.type) { problem("tensor " + t.name + " shape or type differs"); continue; }
      const uint8_t* a = view->tensor_data(*v);
      const uint8_t* b = conv->tensor_data(t);
      const bool q = t.name.find(".attn_q.weight") != std::string::npos, k = t.name.find(".attn_k.weight") != std::string::npos;
      if (permuted && (q || k)) {
        // GGUF row h*hd + 2i + j is HF row h*hd + j*hd/2 + i (convert_hf_to_gguf.py permute()).
        const uint64_t rows = t.ne[1], nh = q ? heads : kv, hd = rows / nh, rb = t.n_bytes / rows;
        for (uint64_t h = 0; h < nh; ++h)
          for (uint64_t i = 0; i < hd / 2; ++i)
            for (uint64_t j = 0; j < 2; ++j)
              if (std::memcmp(b + (h * hd + 2 * i + j) * rb, a + (h * hd + j * hd / 2 + i) * rb, rb) != 0) {
                problem("tensor " + t.name + " row " + std::to_string(h * hd + 2 * i + j) + " differs");
                h = nh, i = hd, j = 2;
              }
      } else if (std::memcmp(a, b, t.n_bytes) != 0) {
        problem("tensor " + t.name + " bytes differ");
      }
      ++n;
    }
    for (const GgufTensorInfo& v : view->tensors())
      if (!conv->find_tensor(v.name)) problem("view has tensor " + v.name + " that the converted file lacks");
    std::printf("%d tensors and %zu metadata keys compared: %d difference(s)\n", n, conv->metadata_keys().size(), problems);
  } catch (const std::exception& e) {
    std::printf("ERROR %s\n", e.what());
    return 1;
  }
  return problems ? 1 : 0;
}
