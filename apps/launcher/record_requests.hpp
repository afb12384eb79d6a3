#pragma once
// Turns one input record into an engine request, or into an error result that names the file,
// dataset and record: one bad record never stops the job.
#include <string>

#include "run_config.hpp"
#include "sci_infer/engine.hpp"

namespace sci_infer::cli {

struct RecordJob {
  bool runnable = false;
  Request request;        // when runnable
  RecordResult failure;   // when not: status 1 (input error) and the message
};

RecordJob make_record_job(const RecordInput& in, const RunConfig& cfg, const Model& model);

}  // namespace sci_infer::cli
