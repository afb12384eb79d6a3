// Input checking and conversion for the batch calls (batch_input.hpp).
#include "batch_input.hpp"

#include <cmath>
#include <cstdint>
#include <string_view>

namespace sci_infer::capi {
namespace {

// Checks one (data, counts) pair of the input before any of it is read; returns the counts'
// total (0 when absent).
int64_t checked_total(const char* data_name, const void* data, const char* counts_name, const int32_t* counts,
                      int32_t n) {
  if (data != nullptr && counts == nullptr)
    fail(SCI_INFER_ERR_ARGUMENT, std::string("input->") + data_name + " is set but input->" + counts_name + " is NULL");
  if (counts == nullptr) return 0;
  int64_t total = 0;
  for (int32_t i = 0; i < n; ++i) {
    if (counts[i] < 0)
      fail(SCI_INFER_ERR_ARGUMENT, std::string("input->") + counts_name + "[" + std::to_string(i) + "] is " +
                                       std::to_string(counts[i]) + ", must be >= 0");
    total += counts[i];
    // Offsets into the caller's buffers are 32-bit in Fortran and in most callers' arithmetic;
    // a sum past INT32_MAX is a wrong count, not a real batch.
    if (total > INT32_MAX)
      fail(SCI_INFER_ERR_ARGUMENT, std::string("input->") + counts_name + "[0.." + std::to_string(i) +
                                       "] add up to " + std::to_string(total) +
                                       ", more than INT32_MAX (2147483647): wrong counts? nothing was read");
  }
  if (total > 0 && data == nullptr)
    fail(SCI_INFER_ERR_ARGUMENT, std::string("input->") + data_name + " is NULL but input->" + counts_name +
                                     " add up to " + std::to_string(total));
  return total;
}

}  // namespace

Batch build_batch(const Engine& engine, const sci_infer_input* in, Task task, bool counts_only) {
  if (in == nullptr) fail(SCI_INFER_ERR_ARGUMENT, "input is NULL");
  if (in->n < 0) fail(SCI_INFER_ERR_ARGUMENT, "input->n is " + std::to_string(in->n) + ", must be >= 0");
  if (in->tokens != nullptr && in->text != nullptr)
    fail(SCI_INFER_ERR_ARGUMENT, "input has both tokens and text; give one of them");
  const int32_t n = in->n;
  checked_total("tokens", in->tokens, "token_counts", in->token_counts, n);
  checked_total("text", in->text, "text_lengths", in->text_lengths, n);
  checked_total("embeddings", in->embeddings, "embedding_rows", in->embedding_rows, n);
  if (n > 0 && in->token_counts == nullptr && in->text_lengths == nullptr && in->embedding_rows == nullptr)
    fail(SCI_INFER_ERR_ARGUMENT, "input has no tokens, text or embeddings");

  const int64_t dim = engine.model().config().dim, context = engine.model().config().context;
  Batch b;
  b.requests.resize(static_cast<size_t>(n));
  b.refused.resize(static_cast<size_t>(n));
  b.n_tokens.assign(static_cast<size_t>(n), 0);
  b.n_rows.assign(static_cast<size_t>(n), 0);
  int64_t token_at = 0, text_at = 0, row_at = 0;
  for (int32_t i = 0; i < n; ++i) {
    Request& r = b.requests[i];
    r.id = in->first_id + static_cast<uint64_t>(i);
    r.task = task;
    const int32_t rows = in->embedding_rows != nullptr ? in->embedding_rows[i] : 0;
    const int32_t tokens = in->token_counts != nullptr ? in->token_counts[i] : 0;
    b.n_rows[i] = rows;
    b.n_tokens[i] = tokens;
    const int64_t positions = int64_t(rows) + tokens;
    if (positions > context) {  // can never run: leave its data unread
      b.refused[i] = "input has " + std::to_string(positions) + " positions (" + std::to_string(rows) +
                     " embedding rows + " + std::to_string(tokens) + " tokens), more than the model context " +
                     std::to_string(context) + "; nothing of it was read";
    } else {
      if (in->token_counts != nullptr) {
        if (!counts_only) r.tokens.assign(in->tokens + token_at, in->tokens + token_at + tokens);
      } else if (in->text_lengths != nullptr) {
        r.tokens = engine.model().tokenizer().encode(std::string_view(in->text + text_at, in->text_lengths[i]), true);
        b.n_tokens[i] = static_cast<int64_t>(r.tokens.size());
      }
      if (rows > 0 && !counts_only) {
        r.n_embedding_rows = static_cast<uint32_t>(rows);
        r.embeddings.assign(in->embeddings + row_at * dim, in->embeddings + (row_at + rows) * dim);
      }
    }
    token_at += tokens;
    if (in->text_lengths != nullptr) text_at += in->text_lengths[i];
    row_at += rows;
  }
  return b;
}

std::vector<RecordResult> Batch::run(Engine& engine) && {
  std::vector<Request> runnable;
  for (size_t i = 0; i < requests.size(); ++i)
    if (refused[i].empty()) runnable.push_back(std::move(requests[i]));
  std::vector<RecordResult> ran = engine.run(std::move(runnable));
  std::vector<RecordResult> results(requests.size());
  size_t next = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (refused[i].empty()) {
      results[i] = std::move(ran[next++]);
      continue;
    }
    RecordResult& r = results[i];
    r.index = requests[i].id;
    r.status = 1;
    r.error = "record " + std::to_string(r.index) + ": " + refused[i];
  }
  return results;
}

std::string failed_sequences(const std::vector<RecordResult>& results, uint64_t first_id) {
  constexpr int kListed = 3;
  int failed = 0;
  std::string list;
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].status == 0) continue;
    if (++failed > kListed) continue;
    // The engine's message starts "record <id>: "; the C caller thinks in sequence indices.
    std::string why = results[i].error;
    const std::string prefix = "record " + std::to_string(first_id + i) + ": ";
    if (why.compare(0, prefix.size(), prefix) == 0) why.erase(0, prefix.size());
    if (!list.empty()) list += "; ";
    list += "sequence " + std::to_string(i) + " (id " + std::to_string(first_id + i) + "): " + why;
  }
  if (failed == 0) return "";
  if (failed > kListed) list += "; and " + std::to_string(failed - kListed) + " more";
  return std::to_string(failed) + " of " + std::to_string(results.size()) + " sequences failed: " + list;
}

bool size_query(const char* what, const void* buffer, int64_t capacity, int64_t* required, int64_t need,
                const char* unit, const std::string& why) {
  if (capacity < 0)
    fail(SCI_INFER_ERR_ARGUMENT, "capacity is " + std::to_string(capacity) + ", must be >= 0");
  if (required != nullptr) *required = need;
  if (buffer == nullptr && capacity == 0) {
    if (required == nullptr)
      fail(SCI_INFER_ERR_ARGUMENT, std::string("size query (") + what + " NULL, capacity 0) with `required` NULL");
    return true;
  }
  if (buffer == nullptr)
    fail(SCI_INFER_ERR_ARGUMENT, std::string(what) + " is NULL but capacity is " + std::to_string(capacity));
  if (capacity < need)
    fail(SCI_INFER_ERR_BUFFER_TOO_SMALL, std::string(what) + " holds " + std::to_string(capacity) + " " + unit +
                                             " but " + std::to_string(need) + " are needed (" + why +
                                             "); *required is set");
  return false;
}

}  // namespace sci_infer::capi
