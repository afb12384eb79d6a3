// Engine life cycle: options, collective create, close, destroy.
#include <cstring>
#include <tuple>

#include "engine/engine_options_check.hpp"
#include "handle.hpp"
#include "parallel/first_failure.hpp"

using namespace sci_infer::capi;

namespace {

// The C options as EngineOptions; every bad value is named.
sci_infer::EngineOptions to_engine_options(const sci_infer_options* o) {
  sci_infer::EngineOptions e;
  if (o == nullptr) return e;
  if (o->struct_size != static_cast<int32_t>(sizeof(sci_infer_options)))
    fail(SCI_INFER_ERR_ARGUMENT, "options->struct_size is " + std::to_string(o->struct_size) + ", expected " +
                                     std::to_string(sizeof(sci_infer_options)) +
                                     ": initialise the options with sci_infer_options_init");
  const auto at_least = [](const char* name, int32_t value, int32_t min) {
    if (value < min)
      fail(SCI_INFER_ERR_ARGUMENT,
           std::string("options->") + name + " is " + std::to_string(value) + ", must be >= " + std::to_string(min));
  };
  at_least("threads", o->threads, 0);
  at_least("kv_cache_mb", o->kv_cache_mb, 1);
  at_least("max_batch", o->max_batch, 1);
  at_least("max_step_tokens", o->max_step_tokens, 1);
  at_least("tensor_parallel", o->tensor_parallel, 1);
  at_least("device", o->device, SCI_INFER_DEVICE_AUTO);
  const auto at_most = [](const char* name, int64_t value, int64_t max, const char* why) {
    if (value > max)
      fail(SCI_INFER_ERR_ARGUMENT, std::string("options->") + name + " is " + std::to_string(value) + ", must be <= " +
                                       std::to_string(max) + " (" + why + ")");
  };
  at_most("threads", o->threads, sci_infer::max_engine_threads(), "4 x the hardware threads, at least 16");
  at_most("kv_cache_mb", o->kv_cache_mb, int64_t(sci_infer::physical_memory_bytes() >> 20),
          "the physical memory of this machine");
  at_most("max_batch", o->max_batch, sci_infer::kMaxEngineSequences, "the engine's limit");
  at_most("max_step_tokens", o->max_step_tokens, sci_infer::kMaxEngineStepTokens, "the engine's limit");
  if (o->reduction != SCI_INFER_REDUCTION_DETERMINISTIC && o->reduction != SCI_INFER_REDUCTION_FAST)
    fail(SCI_INFER_ERR_ARGUMENT, "options->reduction is " + std::to_string(o->reduction) +
                                     ", must be SCI_INFER_REDUCTION_DETERMINISTIC (0) or SCI_INFER_REDUCTION_FAST (1)");
  if (o->pooling != SCI_INFER_POOLING_MEAN && o->pooling != SCI_INFER_POOLING_LAST)
    fail(SCI_INFER_ERR_ARGUMENT, "options->pooling is " + std::to_string(o->pooling) +
                                     ", must be SCI_INFER_POOLING_MEAN (0) or SCI_INFER_POOLING_LAST (1)");
  if (std::memchr(o->gemm, '\0', sizeof o->gemm) == nullptr)
    fail(SCI_INFER_ERR_ARGUMENT, "options->gemm is not NUL-terminated within its 16 bytes");
  const std::string gemm = o->gemm;
  try {
    if (!gemm.empty()) e.gemm = sci_infer::gemm_backend_from_name(gemm);
  } catch (const sci_infer::Error& err) {
    fail(SCI_INFER_ERR_ARGUMENT, std::string("options->gemm: ") + err.what());
  }
#if !defined(SCI_INFER_HAVE_CUDA)
  if (e.gemm == sci_infer::GemmBackend::Cublas)
    fail(SCI_INFER_ERR_ARGUMENT, "options->gemm is \"cublas\" but this build of sci_infer has no CUDA support");
#endif
  e.threads = o->threads;
  e.kv_cache_bytes = size_t(o->kv_cache_mb) << 20;
  e.max_sequences = o->max_batch;
  e.max_step_tokens = o->max_step_tokens;
  e.pooling = o->pooling == SCI_INFER_POOLING_LAST ? sci_infer::Pooling::Last : sci_infer::Pooling::Mean;
  e.tensor_parallel = o->tensor_parallel;
  e.device = o->device;  // its range (the GPUs this process sees) is checked below
  e.reduction = o->reduction == SCI_INFER_REDUCTION_FAST ? sci_infer::Reduction::Fast : sci_infer::Reduction::Deterministic;
  // The engine's own limits (threads, KV budget within physical memory, ...), here so that a bad
  // value is an argument error on every rank, not a failed load.
  try {
    sci_infer::check_engine_options(e);
  } catch (const sci_infer::Error& err) {
    fail(SCI_INFER_ERR_ARGUMENT, std::string("options: ") + err.what());
  }
  return e;
}

bool mpi_usable() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

// Checks that need no communication; without a usable communicator no agreement is possible, so
// these failures return at once (they are the same on every rank of a correct program).
void check_communicator(MPI_Comm comm) {
  if (!mpi_usable())
    fail(SCI_INFER_ERR_MPI, "MPI is not initialised (or already finalised); call MPI_Init first");
  if (comm == MPI_COMM_NULL) fail(SCI_INFER_ERR_MPI, "the communicator is MPI_COMM_NULL");
  int inter = 0;
  MPI_Comm_test_inter(comm, &inter);
  if (inter) fail(SCI_INFER_ERR_MPI, "the communicator is an intercommunicator; pass an intracommunicator");
}

int create(const char* function, const char* model_path, const sci_infer_options* options, MPI_Comm comm,
           sci_infer_engine** out) {
  if (out != nullptr) *out = nullptr;
  try {
    check_communicator(comm);
  } catch (const Failure& f) {
    return record(nullptr, function, f.status, f.message);
  }
  // Argument checks are local: caught so that this rank still joins the agreement below.
  sci_infer::EngineOptions engine_options;
  int status = SCI_INFER_OK;
  std::string message;
  try {
    if (out == nullptr) fail(SCI_INFER_ERR_ARGUMENT, "the output pointer `engine` is NULL");
    if (model_path == nullptr) fail(SCI_INFER_ERR_ARGUMENT, "model_path is NULL");
    engine_options = to_engine_options(options);
  } catch (...) {
    std::tie(status, message) = current_exception_status(SCI_INFER_ERR_ARGUMENT);
  }
  try {
    const sci_infer::RankFailure agreed = sci_infer::first_failure(comm, status, message);
    if (agreed.code != SCI_INFER_OK) return record(nullptr, function, agreed.code, agreed.message);
  } catch (...) {
    const auto [s, m] = current_exception_status(SCI_INFER_ERR_INTERNAL);
    return record(nullptr, function, s, m);
  }
  // The collective C++ constructor: tensor-parallel groups, node-shared weights, and its own
  // agreement, so a load failure on any rank is the same error on every rank.
  auto h = std::make_unique<sci_infer_engine>();
  try {
    h->engine = std::make_unique<sci_infer::Engine>(model_path, engine_options, comm);
  } catch (...) {
    const auto [s, m] = current_exception_status(SCI_INFER_ERR_LOAD);
    return record(nullptr, function, s, m);
  }
  *out = h.release();
  return SCI_INFER_OK;
}

}  // namespace

extern "C" {

void sci_infer_options_init(sci_infer_options* o) {
  if (o == nullptr) return;
  const sci_infer::EngineOptions d;  // one source of truth for the defaults
  std::memset(o, 0, sizeof *o);
  o->struct_size = sizeof(sci_infer_options);
  o->threads = d.threads;
  o->kv_cache_mb = static_cast<int32_t>(d.kv_cache_bytes >> 20);
  o->max_batch = d.max_sequences;
  o->max_step_tokens = d.max_step_tokens;
  o->pooling = d.pooling == sci_infer::Pooling::Last ? SCI_INFER_POOLING_LAST : SCI_INFER_POOLING_MEAN;
  std::strncpy(o->gemm, sci_infer::gemm_backend_name(d.gemm), sizeof o->gemm - 1);
  o->tensor_parallel = d.tensor_parallel;
  o->reduction = SCI_INFER_REDUCTION_DETERMINISTIC;
  o->device = d.device;
}

int sci_infer_engine_create(const char* model_path, const sci_infer_options* options, MPI_Comm comm,
                            sci_infer_engine** engine) {
  return create("sci_infer_engine_create", model_path, options, comm, engine);
}

int sci_infer_engine_create_f(const char* model_path, const sci_infer_options* options, MPI_Fint comm,
                              sci_infer_engine** engine) {
  const char* function = "sci_infer_engine_create_f";
  if (!mpi_usable()) {  // MPI_Comm_f2c is only defined while MPI is initialised
    if (engine != nullptr) *engine = nullptr;
    return record(nullptr, function, SCI_INFER_ERR_MPI, "MPI is not initialised (or already finalised); call MPI_Init first");
  }
  return create(function, model_path, options, MPI_Comm_f2c(comm), engine);
}

int sci_infer_engine_close(sci_infer_engine* engine) {
  return guarded("sci_infer_engine_close", engine, Need::Open, [](sci_infer_engine& h) {
    h.engine.reset();
    h.magic = kMagicClosed;
  });
}

int sci_infer_engine_destroy(sci_infer_engine* engine) {
  return guarded("sci_infer_engine_destroy", engine, Need::OpenOrClosed, [](sci_infer_engine& h) {
    h.engine.reset();
    std::string().swap(h.last_error);
    h.magic = kMagicDestroyed;  // the tombstone stays allocated on purpose (handle.hpp)
  });
}

}  // extern "C"
