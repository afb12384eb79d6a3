// Tokenizer access and model dimensions.
#include <algorithm>
#include <cstring>
#include <string_view>

#include "batch_input.hpp"

using namespace sci_infer::capi;

extern "C" {

int sci_infer_engine_dims(sci_infer_engine* engine, int32_t* n_vocab, int32_t* d_model, int32_t* context) {
  return guarded("sci_infer_engine_dims", engine, Need::Open, [&](sci_infer_engine& h) {
    const sci_infer::ModelConfig& c = h.engine->model().config();
    if (n_vocab != nullptr) *n_vocab = c.n_vocab;
    if (d_model != nullptr) *d_model = c.dim;
    if (context != nullptr) *context = c.context;
  });
}

int sci_infer_tokenize(sci_infer_engine* engine, const char* text, int64_t text_len, int add_special, int32_t* ids,
                       int64_t capacity, int64_t* required) {
  return guarded("sci_infer_tokenize", engine, Need::Open, [&](sci_infer_engine& h) {
    if (text == nullptr && text_len != 0) fail(SCI_INFER_ERR_ARGUMENT, "text is NULL");
    const std::string_view view =
        text == nullptr ? std::string_view() : text_len < 0 ? std::string_view(text) : std::string_view(text, text_len);
    const std::vector<int32_t> out = h.engine->model().tokenizer().encode(view, add_special != 0);
    if (size_query("ids", ids, capacity, required, static_cast<int64_t>(out.size()), "ids",
                   "the text's token count"))
      return;
    std::copy(out.begin(), out.end(), ids);
  });
}

int sci_infer_detokenize(sci_infer_engine* engine, const int32_t* ids, int64_t n_ids, char* text, int64_t capacity,
                         int64_t* required) {
  return guarded("sci_infer_detokenize", engine, Need::Open, [&](sci_infer_engine& h) {
    if (n_ids < 0) fail(SCI_INFER_ERR_ARGUMENT, "n_ids is " + std::to_string(n_ids) + ", must be >= 0");
    if (ids == nullptr && n_ids > 0) fail(SCI_INFER_ERR_ARGUMENT, "ids is NULL but n_ids is " + std::to_string(n_ids));
    const sci_infer::Tokenizer& tok = h.engine->model().tokenizer();
    for (int64_t i = 0; i < n_ids; ++i)
      if (ids[i] < 0 || ids[i] >= tok.n_vocab())
        fail(SCI_INFER_ERR_ARGUMENT, "ids[" + std::to_string(i) + "] is " + std::to_string(ids[i]) +
                                         ", outside the vocabulary [0, " + std::to_string(tok.n_vocab()) + ")");
    const std::string s = tok.decode(std::vector<int32_t>(ids, ids + n_ids));
    if (size_query("text", text, capacity, required, static_cast<int64_t>(s.size()) + 1, "bytes",
                   "the decoded text and its NUL"))
      return;
    std::memcpy(text, s.data(), s.size());
    text[s.size()] = '\0';
  });
}

}  // extern "C"
