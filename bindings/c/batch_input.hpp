#pragma once
// Turns a C sci_infer_input (concatenated token ids / text / embedding rows with per-sequence
// counts) into engine requests, checking every pointer and count, and reports failed sequences.
#include <string>
#include <vector>

#include "handle.hpp"

namespace sci_infer::capi {

// The sequences of one batch call. Every count is checked before any data is read: counts that
// are negative or add up past INT32_MAX fail the call; a sequence with more positions than the
// model's context is refused without reading it (a wrong count must not make the library read
// far past the caller's buffer), and fails as a request.
struct Batch {
  std::vector<Request> requests;     // one per sequence, ids first_id + i; refused ones never run
  std::vector<std::string> refused;  // per sequence: "" or why it cannot run
  std::vector<int64_t> n_tokens;     // per sequence: its token count (text: after tokenizing)
  std::vector<int32_t> n_rows;       // per sequence: its embedding rows

  // Runs the sequences that can run (Engine::run); results in sequence order, refused ones as
  // failed results with their reason.
  std::vector<RecordResult> run(Engine& engine) &&;
};

// Text is tokenized with BOS like the launcher does. `counts_only` (a size query): token ids and
// embedding rows are not read, only counted.
Batch build_batch(const Engine& engine, const sci_infer_input* input, Task task, bool counts_only);

// Whether a call's output buffer and capacity make it a size query (see size_query).
inline bool is_size_query(const void* buffer, int64_t capacity) { return buffer == nullptr && capacity == 0; }

// "" when every result is ok, else "2 of 5 sequences failed: sequence 1 (id 1): ...; ...".
std::string failed_sequences(const std::vector<RecordResult>& results, uint64_t first_id);

// The output-buffer protocol of every batch call. Checks `capacity` against `need` and sets
// *required. Returns true for a size query (buffer NULL, capacity 0): the caller returns at once.
// `what` names the buffer, `unit` its elements, `why` how `need` was computed.
bool size_query(const char* what, const void* buffer, int64_t capacity, int64_t* required, int64_t need,
                const char* unit, const std::string& why);

}  // namespace sci_infer::capi
