#pragma once
// Turns one input record into an engine request, or into an error result that names the file,
// dataset and record: one bad record never stops the job.
#include <string>
#include <vector>

#include "run_config.hpp"
#include "sci_infer/engine.hpp"

namespace sci_infer::cli {

struct RecordJob {
  bool runnable = false;
  Request request;        // when runnable
  RecordResult failure;   // when not: status 1 (input error) and the message
};

RecordJob make_record_job(const RecordInput& in, const RunConfig& cfg, const Model& model);

// Refuses (sci_infer::Error, before any work) a --stop-tokens id outside the model's vocabulary:
// it is a whole-job option, so every record would carry the same mistake.
void check_stop_tokens(const RunConfig& cfg, const ModelConfig& model);

// The dataset names of --carry ("doc_id,label" -> {"doc_id", "label"}), for InputOptions::carry.
std::vector<std::string> carried_dataset_names(const RunConfig& cfg);

}  // namespace sci_infer::cli
