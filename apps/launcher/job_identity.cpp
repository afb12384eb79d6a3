#include "job_identity.hpp"

#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "io/sha256.hpp"
#include "sci_infer/error.hpp"

namespace sci_infer::cli {
namespace {

std::string exact(float v) {  // round-trips: 9 significant digits identify a float
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
  return buf;
}

std::string token_list(const std::string& s) {  // "1, 2" and "1,2" are the same stop tokens
  try {
    std::string out;
    for (int32_t t : parse_token_list(s)) out += (out.empty() ? "" : ",") + std::to_string(t);
    return out;
  } catch (const std::exception&) {
    return s;  // refused elsewhere, before any work
  }
}

struct ResultOption {
  const char* name;  // as on the command line
  std::function<std::string(const RunConfig&)> value;
};

// THE list of `run` options that change results. Every other option is operational: it changes
// how fast or where records are computed, never their bits (docs/reproducibility.md proves it):
//   --threads, MPI ranks, --max-batch, --step-tokens, --claim-records, --commit-seconds,
//   --progress-seconds, --collective-timeout: batching, claim order and thread counts never
//     change a record's bits (rows never interact; fixed reduction orders);
//   --tp with the deterministic reduction: same bits for every tp;
//   --kv-cache-mb: a record either fits (same bits) or fails with status 2, which is not a
//     result: `--resume` recomputes those records (after raising the budget, say);
//   --model's path and --input's path: the identity holds their contents (below), not names.
const std::vector<ResultOption>& result_options() {
  static const std::vector<ResultOption> table = {
      // What is computed: generation, scoring or embedding.
      {"--task", [](const RunConfig& c) { return c.task; }},
      // Sampling: the seed keys the random stream; the others shape the distribution sampled.
      {"--seed", [](const RunConfig& c) { return std::to_string(c.seed); }},
      {"--temperature", [](const RunConfig& c) { return exact(c.temperature); }},
      {"--top-k", [](const RunConfig& c) { return std::to_string(c.top_k); }},
      {"--top-p", [](const RunConfig& c) { return exact(c.top_p); }},
      // When generation ends: a different limit or stop set gives other tokens and finish reasons.
      {"--max-new-tokens", [](const RunConfig& c) { return std::to_string(c.max_new_tokens); }},
      {"--stop-tokens", [](const RunConfig& c) { return token_list(c.stop_tokens); }},
      {"--ignore-eos", [](const RunConfig& c) { return std::string(c.ignore_eos ? "true" : "false"); }},
      // Long inputs: refused (status 1) or truncated (other positions, other results).
      {"--context-policy", [](const RunConfig& c) { return c.context_policy; }},
      // Embeddings: mean or last position. Unused by the other tasks, so it cannot change them.
      {"--pooling", [](const RunConfig& c) { return c.task == "embed" ? c.pooling : std::string("(unused)"); }},
      // The GEMM backend's reduction order: fixed and kokkos run the same fixed-order chains (same
      // bits, test_engine_invariance "portable Kokkos GEMM"); vendor libraries choose their own.
      {"--gemm", [](const RunConfig& c) { return c.engine.gemm == "kokkos" ? std::string("fixed") : c.engine.gemm; }},
      // Tensor-parallel sums: deterministic gives the same bits for every tp; fast (MPI_Allreduce)
      // depends on tp and the MPI library, so with it tp becomes part of the identity too.
      {"--reduction", [](const RunConfig& c) { return c.engine.reduction; }},
      {"--tp", [](const RunConfig& c) {
         return c.engine.reduction == "fast" ? std::to_string(c.engine.tp) : std::string("(any: deterministic reduction)");
       }},
  };
  return table;
}

std::string short_hash(const std::string& h) { return h.size() > 16 ? h.substr(0, 16) + "..." : h; }

}  // namespace

std::string JobIdentity::parts_json() const { return nlohmann::json(parts).dump(); }

std::string JobIdentity::fingerprint() const {
  const std::string j = parts_json();
  return sha256_hex(j.data(), j.size());
}

JobIdentity JobIdentity::from_json(const std::string& json, const std::string& where) {
  JobIdentity id;
  try {
    const nlohmann::json j = nlohmann::json::parse(json);
    for (const auto& [k, v] : j.items()) id.parts[k] = v.get<std::string>();
  } catch (const std::exception& e) {
    throw Error(where + ": the recorded job identity is not readable (" + e.what() + ")");
  }
  return id;
}

JobIdentity job_identity(const RunConfig& cfg, const std::string& model_fingerprint,
                         const std::string& input_sha256) {
  JobIdentity id;
  id.parts["model"] = model_fingerprint;  // same for the original file and its tp shard files
  id.parts["input"] = input_sha256;       // the content, wherever the file is
  for (const ResultOption& o : result_options()) id.parts[o.name] = o.value(cfg);
  return id;
}

std::vector<std::string> identity_changes(const JobIdentity& recorded, const JobIdentity& current,
                                          const std::string& then, const std::string& now) {
  std::map<std::string, std::pair<std::string, std::string>> all;
  for (const auto& [k, v] : recorded.parts) all[k].first = v;
  for (const auto& [k, v] : current.parts) all[k].second = v;
  std::vector<std::string> out;
  auto shown = [](const std::string& v) { return v.empty() ? std::string("(none)") : v; };
  // Model and input first: the most likely mistakes, and they invalidate everything else.
  for (const char* key : {"model", "input"}) {
    const auto it = all.find(key);
    if (it == all.end() || it->second.first == it->second.second) continue;
    const std::string what = std::string(key) == "model" ? "model changed (fingerprint " : "input file content changed (sha256 ";
    out.push_back(what + short_hash(shown(it->second.first)) + " " + then + ", " + short_hash(shown(it->second.second)) +
                  " " + now + ")");
  }
  for (const auto& [k, v] : all) {
    if (k == "model" || k == "input" || v.first == v.second) continue;
    out.push_back(k + ": " + shown(v.first) + " " + then + ", " + shown(v.second) + " " + now);
  }
  return out;
}

std::string join_changes(const std::vector<std::string>& changes) {
  std::string s;
  for (const auto& c : changes) s += (s.empty() ? "" : "; ") + c;
  return s;
}

}  // namespace sci_infer::cli
