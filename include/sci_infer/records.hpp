#pragma once
// One record of a batch job: what goes in (from /prompts, /tokens, /embeddings ...) and what
// comes out (/results/...). Plain data, shared by the HDF5 layer, the engine and the launcher.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sci_infer {

struct RecordInput {
  uint64_t index = 0;                   // position in the input file (0-based)
  bool has_prompt = false;
  std::string prompt;                   // /prompts[index], UTF-8 (validated by the reader)
  bool has_tokens = false;
  std::vector<int32_t> tokens;          // /tokens[index]
  uint32_t n_embedding_rows = 0;        // /embedding_lengths[index]
  std::vector<float> embeddings;        // n_embedding_rows x d_model, row-major, from /embeddings
  std::optional<uint64_t> seed;         // /seeds[index]
  std::optional<int32_t> max_new_tokens;// /max_new_tokens[index]
  // Per-record sampling overrides (range-checked by the reader, except stop ids vs the vocabulary).
  std::optional<float> temperature;     // /temperature[index], finite and >= 0
  std::optional<float> top_p;           // /top_p[index], in (0, 1]
  std::optional<int32_t> top_k;         // /top_k[index], >= 0
  std::optional<std::vector<int32_t>> stop_tokens;  // /stop_tokens[index], replaces --stop-tokens
  std::string error;                    // non-empty: a per-record input problem found while reading
};

enum class FinishReason : int32_t { None = 0, Stop = 1, Length = 2, Error = 3 };
const char* finish_reason_name(FinishReason r);  // "", "stop", "length", "error"

struct RecordResult {
  uint64_t index = 0;
  int32_t status = 0;                   // 0 ok, non-zero: see docs/hdf5-schema.md
  std::string error;                    // empty when ok
  std::vector<int32_t> tokens;          // generated ids (generate)
  std::string text;                     // decoded generated text (generate)
  std::vector<float> logprobs;          // per generated (generate) or scored (score) token
  FinishReason finish = FinishReason::None;
  std::vector<float> embedding;         // d_model floats (embed)
  std::vector<float> logits;            // Task::Logits only (not written to HDF5)
};

}  // namespace sci_infer
