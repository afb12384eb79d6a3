#pragma once
// The inference engine: continuous batching of many sequences over one model on one rank.
//
//   auto model  = sci_infer::Model::open("m.gguf");
//   sci_infer::Engine engine(model, {});
//   engine.submit(request);                 // any number, any mix of lengths and tasks
//   while (!engine.idle())
//     for (auto& r : engine.step()) ...     // results as sequences finish
//
// A sequence's results are bitwise identical whatever else is in the batch, the number of
// threads, and how its prompt was split into prefill chunks (docs/reproducibility.md).
#include <mpi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sci_infer/backend.hpp"
#include "sci_infer/device.hpp"  // ensure_kokkos_initialized, device selection
#include "sci_infer/model.hpp"
#include "sci_infer/records.hpp"
#include "sci_infer/sampling.hpp"

namespace sci_infer {

enum class Task { Generate, Score, Embed, Logits };
const char* task_name(Task t);
Task task_from_name(const std::string& name);  // "generate", "score", "embed", "logits"

enum class Pooling { Mean, Last };
const char* pooling_name(Pooling p);
Pooling pooling_from_name(const std::string& name);

struct EngineOptions {
  GemmBackend gemm = GemmBackend::FixedOrder;
  int threads = 0;                  // 0: SCI_INFER_THREADS, else OMP_NUM_THREADS, else all cores
  // KV-cache budget of one model copy: with tensor parallelism, of the whole group. It holds
  // kv_cache_bytes / (2 x layers x KV heads x head_dim x 4 bytes) positions (in pages of 32) of
  // the full model, the same number at every tp, so which records fit never depends on the
  // layout; each rank allocates those positions for the KV heads it stores (1/tp of the bytes,
  // or one replicated head when tp exceeds the KV heads). Never more than max_sequences full
  // contexts are reserved.
  size_t kv_cache_bytes = 1ull << 30;
  int max_sequences = 64;           // sequences decoded together
  int max_step_tokens = 512;        // tokens per forward step (decode tokens + prefill chunks)
  Pooling pooling = Pooling::Mean;  // for Task::Embed
  // Tensor parallelism (collective constructor only): consecutive groups of this many ranks of
  // the communicator share one model, each holding 1/tp of the weights. Every rank of a group
  // must submit the same requests in the same order and call step() together; each gets the
  // same results. The default reduction gives the same bits for every tp (reproducibility.md).
  int tensor_parallel = 1;
  Reduction reduction = Reduction::Deterministic;
  // Collective constructor, fixed-order GEMM: ranks of a node holding the same weight slices
  // share one copy in MPI shared memory (the lowest of them packs it).
  bool share_node_weights = true;
  // The GPU of this process (device builds; sci_infer/device.hpp): kDeviceAuto takes
  // SCI_INFER_DEVICE, else the node-local rank modulo the visible GPUs. A host-only build accepts
  // any index >= 0 and runs on the host. Kokkos is initialised once per process: the first
  // engine's choice holds, and a later engine asking explicitly for another device is refused.
  int device = kDeviceAuto;
};

struct Request {
  uint64_t id = 0;                  // record id: keys the random draws, echoed in the result
  Task task = Task::Generate;
  std::vector<int32_t> tokens;      // prompt token ids (after any embedding rows)
  std::vector<float> embeddings;    // n_embedding_rows x dim input vectors, fed first
  uint32_t n_embedding_rows = 0;
  SamplingParams sampling;
  int32_t max_new_tokens = 16;      // Generate only
  bool all_positions = false;       // Logits only: every position, else the last
};

struct KvCacheStats {
  size_t bytes = 0;                 // memory reserved for the cache
  int32_t pages = 0, pages_in_use = 0, page_tokens = 0;
};

class Engine {
 public:
  Engine(std::shared_ptr<const Model> model, EngineOptions options);
  // Collective over `comm` (data parallel: every rank opens the model and runs the requests it
  // is given; nothing is communicated after construction). If the model or the engine fails on
  // any rank, every rank throws sci_infer::Error with the message of the lowest failing rank,
  // so no rank is left waiting. `comm` must stay valid while the engine exists. With
  // options.threads == 0 each rank takes the node's cores divided by the ranks of `comm` on that
  // node (after SCI_INFER_THREADS / OMP_NUM_THREADS), so co-located ranks never oversubscribe.
  Engine(const std::string& model_path, EngineOptions options, MPI_Comm comm);
  // The same, for a caller that has opened the model already (each rank its own file: with
  // tensor parallelism and shard files, the one of its tp rank).
  Engine(std::shared_ptr<const Model> model, EngineOptions options, MPI_Comm comm);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request; problems with it (bad token ids, too long, ...) come back as an error
  // result from step(), never as an exception, so one bad record cannot stop a batch.
  void submit(Request request);
  // Runs one forward step over the current batch; returns the requests that finished.
  std::vector<RecordResult> step();
  bool idle() const;
  // Submits all, steps until idle, returns results in request order.
  std::vector<RecordResult> run(std::vector<Request> requests);

  // Convenience: logits of the last position (or all positions, row after row).
  std::vector<float> logits(const std::vector<int32_t>& tokens, bool all_positions = false);

  const Model& model() const;
  const EngineOptions& options() const;
  MPI_Comm comm() const;            // the constructor's communicator; MPI_COMM_NULL if none
  int tp_rank() const;              // rank within the tensor-parallel group (0 without one)
  int tp_size() const;              // options().tensor_parallel
  // The tensor-parallel group's communicator (MPI_COMM_NULL without one); callers may use it for
  // their own group collectives, in the same order on every rank of the group.
  MPI_Comm tp_comm() const;
  uint64_t tp_bytes_received() const;  // tensor-parallel payload received by this rank so far
  KvCacheStats kv_cache_stats() const;
  size_t weight_bytes() const;      // packed weights held by the GEMM backend

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  // The collective construction both MPI constructors share; open_model(tp_rank) gives the model.
  void init_collective(const std::function<std::shared_ptr<const Model>(int tp_rank)>& open_model,
                       EngineOptions options, MPI_Comm comm);
};

}  // namespace sci_infer
