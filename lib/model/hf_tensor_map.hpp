#pragma once
// A Hugging Face checkpoint's tensors under their GGUF names, read through the architecture's
// table (architecture.hpp: RoleInfo::hf, HfConventions): which HF tensor plays which role, and
// the few changes llama.cpp's convert_hf_to_gguf.py makes that sci_infer makes too:
//   - vectors and norms become F32 copies (Gemma's norms + 1);
//   - an interleaved tensor gives two roles (gpt-oss gate_up_proj: even rows gate, odd rows up);
//   - an MXFP4 `_blocks` + `_scales` pair is repacked into ggml's block_mxfp4, when first read
//     and dropped again once packed (GgufFile's derived tensors), so the view holds no copy;
//   - Gemma 3's embedding loses the rows past the tokenizer's vocabulary.
// Every other tensor stays where it is in the mapped file (ne = the reversed HF shape: same bytes).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.hpp"
#include "model/architecture.hpp"
#include "sci_infer/gguf.hpp"

namespace sci_infer {

// One safetensors tensor of the checkpoint and where its bytes are.
struct HfTensor {
  const SafetensorsTensor* t;
  uint32_t source;     // which file (data region)
  uint64_t offset;     // of its data in that region
  const uint8_t* data;
  std::string file;    // path, for messages
  std::shared_ptr<const MappedRegion> region;  // the mapped file (a derived tensor drops the pages it read)
};

struct HfTensorTable {
  uint32_t owned_source = 0;            // the source index the copies in `owned` will have
  std::vector<GgufTensorInfo> tensors;  // copies: source = owned_source, offset into `owned`
  std::vector<uint8_t> owned;           // 32-byte aligned copies
  std::vector<std::string> hf_names;    // per tensor, the HF name it came from (for messages)
  std::vector<std::string> hf_files;    // and its file
  std::map<std::string, GgufFile::DeriveBytes> derived;  // MXFP4 pairs: repacked when first read
  // A tensor whose source and offset are set (in place, or GgufFile::kDerivedSource).
  void add(GgufTensorInfo t, const std::string& hf, const std::string& file);
  // A tensor whose bytes are copied into `owned`.
  void add_owned(GgufTensorInfo t, const void* bytes, uint64_t n, const std::string& hf, const std::string& file);
};

// The view's tensors, in checkpoint order. `vocab_keep` > 0 trims the embedding to that many rows.
// Throws an Error naming the file and tensor for a tensor that no role of `a` has, a dtype the
// role cannot take, an MXFP4 half without its partner or of the wrong shape.
HfTensorTable map_hf_tensors(const ArchDesc& a, const std::vector<HfTensor>& tensors, uint32_t owned_source,
                             uint64_t vocab_keep);

// The size each Size stands for in this checkpoint, and the config.json words that say so
// ("hidden_size 64"), for checking the tensors against config.json in HF terms.
struct HfSizes {
  uint64_t value[10] = {};
  std::string because[10];
  void set(Size s, uint64_t v, std::string why) {
    value[static_cast<int>(s)] = v;
    because[static_cast<int>(s)] = std::move(why);
  }
};

// Every required role present in every layer, and every tensor of the shape config.json gives;
// errors name config.json's keys and the HF tensor and file.
void check_hf_tensors(const ArchDesc& a, const HfTensorTable& t, const HfSizes& sizes, uint64_t layers,
                      const std::string& config_path, const std::string& dir);

}  // namespace sci_infer
