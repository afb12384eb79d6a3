#pragma once
// The identity of a batch job: everything that determines its results, and nothing else.
//
// Two runs with the same identity compute the same bits for every record, whatever their rank
// count, threads, batch limits or restarts; two runs with different identities may not. So
// `--resume` refuses to continue an output (or a journal file) whose recorded identity differs
// from the new run's, naming each part that changed, and journal files carry the identity in
// their header so that a foreign journal is never merged.
//
// The parts: the model (model_fingerprint(): the same for the original file and its shards),
// the input file's content (SHA-256), and the `run` options that change results (the table in
// job_identity.cpp says why each one is there and why the others are not).
#include <map>
#include <string>
#include <vector>

#include "run_config.hpp"

namespace sci_infer::cli {

struct JobIdentity {
  std::map<std::string, std::string> parts;  // "--seed" -> "1", "model" -> fingerprint, ...

  // Canonical JSON of the parts (keys sorted): what journal headers and the output record.
  std::string parts_json() const;
  // SHA-256 (hex) of parts_json(): one string to compare.
  std::string fingerprint() const;
  // Throws Error (naming `where`) if `json` is not an object of strings.
  static JobIdentity from_json(const std::string& json, const std::string& where);
};

// The identity of the job `cfg` describes, on the model with fingerprint `model_fingerprint` and
// the input file whose content has SHA-256 `input_sha256`.
JobIdentity job_identity(const RunConfig& cfg, const std::string& model_fingerprint,
                         const std::string& input_sha256);

// One line per part that differs, e.g. "--seed: 1 recorded, 99 now", "input file content
// changed (sha256 ab... recorded, cd... now)". `then`/`now` name the two sides ("recorded").
std::vector<std::string> identity_changes(const JobIdentity& recorded, const JobIdentity& current,
                                          const std::string& then = "recorded",
                                          const std::string& now = "now");

// The changes joined with "; ".
std::string join_changes(const std::vector<std::string>& changes);

}  // namespace sci_infer::cli
