#include "record_requests.hpp"

#include "io/hdf5_output.hpp"

namespace sci_infer::cli {
namespace {

RecordJob fail(const RecordInput& in, const std::string& msg) {
  RecordJob j;
  j.failure.index = in.index;
  j.failure.status = kStatusInputError;
  j.failure.error = msg;
  j.failure.finish = FinishReason::Error;
  return j;
}

}  // namespace

RecordJob make_record_job(const RecordInput& in, const RunConfig& cfg, const Model& model) {
  const ModelConfig& mc = model.config();
  const std::string where = cfg.input + ": record " + std::to_string(in.index) + ": ";
  if (!in.error.empty()) return fail(in, in.error);
  Request r;
  r.id = in.index;
  r.task = task_from_name(cfg.task);
  if (in.has_tokens) {
    r.tokens = in.tokens;
    for (size_t i = 0; i < r.tokens.size(); ++i)
      if (r.tokens[i] < 0 || r.tokens[i] >= mc.n_vocab)
        return fail(in, cfg.input + ": /tokens[" + std::to_string(in.index) + "]: token " + std::to_string(i) + " has id " +
                            std::to_string(r.tokens[i]) + ", outside the vocabulary [0, " + std::to_string(mc.n_vocab) + ")");
  } else if (in.has_prompt) {
    r.tokens = model.tokenizer().encode(in.prompt, true);
  }
  r.n_embedding_rows = in.n_embedding_rows;
  r.embeddings = in.embeddings;
  if (r.embeddings.size() != size_t(r.n_embedding_rows) * mc.dim)
    return fail(in, cfg.input + ": /embeddings[" + std::to_string(in.index) + "]: rows have the wrong width for d_model " +
                        std::to_string(mc.dim));
  if (r.tokens.empty() && r.n_embedding_rows == 0) return fail(in, where + "empty input (no tokens, no embedding rows)");
  const int64_t total = int64_t(r.tokens.size()) + r.n_embedding_rows;
  if (total > mc.context) {
    if (cfg.context_policy != "truncate-left")
      return fail(in, where + "input has " + std::to_string(total) + " positions, more than the model context " +
                          std::to_string(mc.context) + " (--context-policy truncate-left keeps the last ones)");
    int64_t drop = total - mc.context;
    const int64_t emb_drop = std::min<int64_t>(drop, r.n_embedding_rows);
    r.embeddings.erase(r.embeddings.begin(), r.embeddings.begin() + emb_drop * mc.dim);
    r.n_embedding_rows -= static_cast<uint32_t>(emb_drop);
    drop -= emb_drop;
    r.tokens.erase(r.tokens.begin(), r.tokens.begin() + drop);
  }
  if (r.task == Task::Score && total < 2) return fail(in, where + "scoring needs at least two positions");
  r.max_new_tokens = in.max_new_tokens ? *in.max_new_tokens : cfg.max_new_tokens;
  if (r.max_new_tokens < 0) return fail(in, cfg.input + ": /max_new_tokens[" + std::to_string(in.index) + "] is negative");
  // Per-record datasets override the command line for their record (the reader range-checked
  // them; only the vocabulary is known here).
  r.sampling.seed = in.seed ? *in.seed : cfg.seed;
  r.sampling.temperature = in.temperature ? *in.temperature : cfg.temperature;
  r.sampling.top_k = in.top_k ? *in.top_k : cfg.top_k;
  r.sampling.top_p = in.top_p ? *in.top_p : cfg.top_p;
  r.sampling.ignore_eos = cfg.ignore_eos;
  if (in.stop_tokens) {
    const std::vector<int32_t>& stop = *in.stop_tokens;
    for (size_t i = 0; i < stop.size(); ++i)
      if (stop[i] < 0 || stop[i] >= mc.n_vocab)
        return fail(in, cfg.input + ": /stop_tokens[" + std::to_string(in.index) + "]: token " + std::to_string(i) +
                            " has id " + std::to_string(stop[i]) + ", outside the vocabulary [0, " +
                            std::to_string(mc.n_vocab) + ")");
    r.sampling.stop_tokens = stop;
  } else {
    r.sampling.stop_tokens = parse_token_list(cfg.stop_tokens);
  }
  RecordJob j;
  j.runnable = true;
  j.request = std::move(r);
  return j;
}

std::vector<std::string> carried_dataset_names(const RunConfig& cfg) {
  std::vector<std::string> names;
  std::string name;
  for (size_t i = 0; i <= cfg.carry.size(); ++i) {
    if (i == cfg.carry.size() || cfg.carry[i] == ',') {
      if (!name.empty()) names.push_back(name);
      name.clear();
    } else if (cfg.carry[i] != ' ') {
      name += cfg.carry[i];
    }
  }
  return names;
}

void check_stop_tokens(const RunConfig& cfg, const ModelConfig& model) {
  for (int32_t t : parse_token_list(cfg.stop_tokens))
    if (t < 0 || t >= model.n_vocab)
      throw Error("--stop-tokens: token " + std::to_string(t) + " is outside the vocabulary [0, " +
                  std::to_string(model.n_vocab) + ") of " + cfg.engine.model);
}

}  // namespace sci_infer::cli
