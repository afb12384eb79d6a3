#pragma once
// Hugging Face checkpoint directories (config.json, *.safetensors, tokenizer.json) opened as an
// in-memory GGUF view: the safetensors files are mapped in place (one data region each, never
// copied), tensors get their GGUF names and shapes (ne = the reversed safetensors shape: the
// same bytes), and config.json / tokenizer.json become the metadata keys that llama.cpp's
// convert_hf_to_gguf.py would write. Model, tokenizer, shard layout and engine then work
// unchanged. Deliberate differences from the converter: Q/K rows are not permuted (the view says
// sci_infer.rope.layout = "neox" instead), and only vectors (norms, biases: a few KB) are copied,
// to F32, as the converter stores them. See docs/hf-checkpoints.md.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sci_infer/gguf.hpp"

namespace sci_infer {

using GgufMetadata = std::vector<std::pair<std::string, GgufValue>>;

bool is_directory(const std::string& path);
// A GGUF file, or a checkpoint directory viewed as one. Throws sci_infer::Error.
std::unique_ptr<GgufFile> open_model_file(const std::string& path);
std::unique_ptr<GgufFile> open_hf_checkpoint(const std::string& dir);

// tokenizer.json (+ tokenizer_config.json, generation_config.json, config.json) as
// tokenizer.ggml.* keys, for a vocabulary of n_vocab ids (missing ids become [PADn] tokens).
void add_hf_tokenizer_metadata(const std::string& dir, const nlohmann::json& config, uint64_t n_vocab,
                               GgufMetadata& md);

// The number of token ids tokenizer.json names (its largest id + 1; 0 without one).
uint64_t hf_tokenizer_id_count(const std::string& dir);

// Reads a JSON file; throws an Error naming it when unreadable or not JSON.
nlohmann::json read_json_file(const std::string& path);

GgufValue gguf_str(const std::string& s);
GgufValue gguf_u32(uint64_t v);
GgufValue gguf_i32(int64_t v);
GgufValue gguf_f32(double v);
GgufValue gguf_bool(bool v);
GgufValue gguf_strs(std::vector<std::string> v);
GgufValue gguf_f32s(std::vector<double> v);
GgufValue gguf_i32s(std::vector<int64_t> v);

}  // namespace sci_infer
