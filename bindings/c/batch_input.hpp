#pragma once
// Turns a C sci_infer_input (concatenated token ids / text / embedding rows with per-sequence
// counts) into engine requests, checking every pointer and count, and reports failed sequences.
#include <string>
#include <vector>

#include "handle.hpp"

namespace sci_infer::capi {

// One request per sequence, ids first_id + i; text is tokenized with BOS like the launcher does.
std::vector<Request> build_requests(const Engine& engine, const sci_infer_input* input, Task task);

// "" when every result is ok, else "2 of 5 sequences failed: sequence 1 (id 1): ...; ...".
std::string failed_sequences(const std::vector<RecordResult>& results, uint64_t first_id);

// The output-buffer protocol of every batch call. Checks `capacity` against `need` and sets
// *required. Returns true for a size query (buffer NULL, capacity 0): the caller returns at once.
// `what` names the buffer, `unit` its elements, `why` how `need` was computed.
bool size_query(const char* what, const void* buffer, int64_t capacity, int64_t* required, int64_t need,
                const char* unit, const std::string& why);

}  // namespace sci_infer::capi
