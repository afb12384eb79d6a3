// The engine: a continuous-batching scheduler around one forward pass.
//
// Each step packs a flat list of tokens from all active sequences (one decode token per
// generating sequence, then prefill chunks up to the step's token budget), runs the model over
// them, and hands the rows that need it to the sampler / scorer / pooler. Sequences join as KV
// pages allow and leave when they finish.
#include "sci_infer/engine.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>

#include "engine/engine_options_check.hpp"
#include "engine/forward_pass.hpp"
#include "engine/kv_cache.hpp"
#include "engine/model_weights.hpp"
#include "io/non_finite.hpp"
#include "model/shard_layout.hpp"
#include "parallel/node_shared_memory.hpp"
#include "parallel/tensor_comm.hpp"
#include "parallel/node_threads.hpp"
#include "parallel/first_failure.hpp"

namespace sci_infer {

const char* task_name(Task t) {
  switch (t) {
    case Task::Generate: return "generate";
    case Task::Score: return "score";
    case Task::Embed: return "embed";
    case Task::Logits: return "logits";
  }
  return "?";
}

Task task_from_name(const std::string& n) {
  if (n == "generate") return Task::Generate;
  if (n == "score") return Task::Score;
  if (n == "embed") return Task::Embed;
  if (n == "logits") return Task::Logits;
  throw Error("unknown task '" + n + "' (generate, score, embed, logits)");
}

const char* pooling_name(Pooling p) { return p == Pooling::Mean ? "mean" : "last"; }
Pooling pooling_from_name(const std::string& n) {
  if (n == "mean") return Pooling::Mean;
  if (n == "last") return Pooling::Last;
  throw Error("unknown pooling '" + n + "' (mean, last)");
}

namespace {

int resolve_threads(int requested) {
  if (requested > 0) return requested;
  if (const char* s = std::getenv("SCI_INFER_THREADS")) {
    const int n = std::atoi(s);
    if (n > 0) return n;
  }
  return std::max(1, omp_get_max_threads());
}

// One request in flight.
struct Sequence {
  Request req;
  int32_t slot = -1;
  std::vector<int32_t> inputs;  // prompt tokens then generated tokens (embedding rows come first)
  int32_t n_emb = 0;
  int32_t n_prompt = 0;         // embedding rows + prompt tokens
  int32_t n_done = 0;           // positions already in the KV cache
  RecordResult result;
  std::vector<double> pooled;   // Embed: running sum (or last row) of final hidden states
  bool failed = false;          // result holds a runtime error: retire without finalising
  int32_t total() const { return n_emb + static_cast<int32_t>(inputs.size()); }
};

int comm_rank(MPI_Comm c) {
  int r = 0;
  if (c != MPI_COMM_NULL) MPI_Comm_rank(c, &r);
  return r;
}

}  // namespace

struct Engine::Impl {
  std::shared_ptr<const Model> model;
  EngineOptions opt;
  int threads = 1;
  ShardLayout shard;
  TensorComm tp;
  std::unique_ptr<NodeSharedMemory> arena;  // node-shared packed weights (collective engines)
  ModelWeights weights;
  KvCache kv;
  ForwardPass forward;
  std::deque<Sequence> waiting;
  std::vector<Sequence> active;  // in admission order
  std::vector<RecordResult> finished_early;  // rejected at submit: returned by the next step
  MPI_Comm comm = MPI_COMM_NULL;             // set by the collective constructor only
  MPI_Comm tp_comm = MPI_COMM_NULL;          // owned: split from comm when tensor_parallel > 1

  // tp_comm: this rank's tensor-parallel group (MPI_COMM_NULL: a group of one).
  // comm: the whole communicator (for node sharing), or MPI_COMM_NULL.
  Impl(std::shared_ptr<const Model> m, EngineOptions o, MPI_Comm comm, MPI_Comm tp_comm)
      : model(std::move(m)),
        opt(o),
        threads(resolve_threads(o.threads)),
        shard(ShardLayout::make(model->config(), o.tensor_parallel, comm_rank(tp_comm))),
        tp(tp_comm == MPI_COMM_NULL ? TensorComm() : TensorComm(tp_comm, o.reduction)),
        arena(comm != MPI_COMM_NULL && o.share_node_weights && o.gemm == GemmBackend::FixedOrder
                  ? std::make_unique<NodeSharedMemory>(comm, shard.rank)
                  : nullptr),
        weights(load_weights()),
        kv(model->config(), shard, o.kv_cache_bytes, o.max_sequences),
        forward(model->config(), shard, tp, o.max_step_tokens) {}

  ModelWeights load_weights() {
    ModelWeights w = ModelWeights::load(*model, opt.gemm, threads, shard, opt.reduction, arena.get());
    if (arena) arena->publish();
    return w;
  }

  RecordResult error_result(const Request& r, const std::string& msg) const {
    RecordResult res;
    res.index = r.id;
    res.status = 2;
    res.error = msg;
    res.finish = FinishReason::Error;
    return res;
  }

  // Returns an error message, or "" if the request can run.
  std::string validate(const Request& r) const {
    const ModelConfig& c = model->config();
    const std::string rec = "record " + std::to_string(r.id) + ": ";
    if (r.tokens.empty() && r.n_embedding_rows == 0) return rec + "empty input (no tokens, no embedding rows)";
    if (r.embeddings.size() != size_t(r.n_embedding_rows) * c.dim)
      return rec + "embedding rows have " + std::to_string(r.embeddings.size()) + " values, expected " +
             std::to_string(size_t(r.n_embedding_rows) * c.dim) + " (" + std::to_string(r.n_embedding_rows) +
             " rows x d_model " + std::to_string(c.dim) + ")";
    for (float v : r.embeddings)
      if (!std::isfinite(v)) return rec + "embedding input contains NaN or Inf";
    for (size_t i = 0; i < r.tokens.size(); ++i)
      if (r.tokens[i] < 0 || r.tokens[i] >= c.n_vocab)
        return rec + "token " + std::to_string(i) + " has id " + std::to_string(r.tokens[i]) +
               ", outside the vocabulary [0, " + std::to_string(c.n_vocab) + ")";
    const int64_t n = int64_t(r.tokens.size()) + r.n_embedding_rows;
    if (n > c.context)
      return rec + "input has " + std::to_string(n) + " positions, more than the model context " +
             std::to_string(c.context);
    if (r.task == Task::Generate && r.max_new_tokens < 0) return rec + "max_new_tokens is negative";
    if (r.task == Task::Generate && r.sampling.temperature < 0.0f) return rec + "temperature is negative";
    if (r.task == Task::Score && n < 2) return rec + "scoring needs at least two positions";
    if (kv.pages_for(reserved_positions(r)) > kv.total_pages())
      return rec + "needs " + std::to_string(kv.pages_for(reserved_positions(r))) + " KV-cache pages but the cache has " +
             std::to_string(kv.total_pages()) + " (raise the KV-cache budget)";
    return "";
  }

  int32_t reserved_positions(const Request& r) const {
    int64_t n = int64_t(r.tokens.size()) + r.n_embedding_rows;
    if (r.task == Task::Generate) n += r.max_new_tokens;
    return static_cast<int32_t>(std::min<int64_t>(n, model->config().context));
  }

  void submit(Request r) {
    std::string err = validate(r);
    if (!err.empty()) {
      finished_early.push_back(error_result(r, err));
      return;
    }
    if (r.task == Task::Generate && r.max_new_tokens == 0) {
      RecordResult res;
      res.index = r.id;
      res.finish = FinishReason::Length;
      finished_early.push_back(res);
      return;
    }
    Sequence s;
    s.n_emb = static_cast<int32_t>(r.n_embedding_rows);
    s.inputs = r.tokens;
    s.n_prompt = s.n_emb + static_cast<int32_t>(r.tokens.size());
    s.result.index = r.id;
    s.req = std::move(r);
    waiting.push_back(std::move(s));
  }

  void admit() {
    while (!waiting.empty()) {
      Sequence& s = waiting.front();
      const int32_t slot = kv.acquire(reserved_positions(s.req));
      if (slot < 0) break;  // not enough pages or slots now: it waits for others to finish
      s.slot = slot;
      active.push_back(std::move(s));
      waiting.pop_front();
    }
  }

  // Which positions of a sequence need an output row after the forward pass.
  static bool wants_output(const Sequence& s, int32_t pos) {
    switch (s.req.task) {
      case Task::Generate: return pos == s.total() - 1;
      case Task::Score: return pos + 1 < s.n_prompt && pos + 1 >= std::max(s.n_emb, 1);
      case Task::Embed: return true;
      case Task::Logits: return s.req.all_positions || pos == s.n_prompt - 1;
    }
    return false;
  }

  std::vector<RecordResult> step() {
    std::vector<RecordResult> done;
    done.swap(finished_early);
    admit();
    if (active.empty()) return done;

    // Plan the step: decode tokens first (latency), then prefill chunks in admission order.
    StepPlan plan;
    int32_t budget = opt.max_step_tokens;
    for (int pass = 0; pass < 2; ++pass) {
      for (size_t si = 0; si < active.size() && budget > 0; ++si) {
        Sequence& s = active[si];
        const int32_t remaining = s.total() - s.n_done;
        const bool decoding = s.n_done >= s.n_prompt;
        if (remaining <= 0 || decoding != (pass == 0)) continue;
        const int32_t take = std::min(remaining, budget);
        for (int32_t p = s.n_done; p < s.n_done + take; ++p) {
          StepPlan::Token t;
          t.seq = static_cast<int32_t>(si);
          t.slot = s.slot;
          t.position = p;
          if (p < s.n_emb) {
            t.token = -1;
            t.emb = &s.req.embeddings[size_t(p) * model->config().dim];
          } else {
            t.token = s.inputs[p - s.n_emb];
          }
          t.want_logits = wants_output(s, p) && s.req.task != Task::Embed;
          t.want_hidden = wants_output(s, p) && s.req.task == Task::Embed;
          plan.tokens.push_back(t);
        }
        budget -= take;
      }
    }
    set_kernel_threads(threads);  // Serial-backend kernels fan out over this engine's threads
    const StepOutputs out = forward.run(plan, kv.views(), weights);

    // Consume the outputs in plan order (positions ascending within each sequence).
    const int32_t n_vocab = model->config().n_vocab, dim = model->config().dim;
    size_t li = 0, hi = 0;
    for (const auto& t : plan.tokens) {
      Sequence& s = active[t.seq];
      s.n_done = t.position + 1;
      const float* hidden = t.want_hidden ? out.hidden.data() + hi++ * dim : nullptr;
      const float* logits = t.want_logits ? out.logits.data() + li++ * size_t(n_vocab) : nullptr;
      if (s.failed) continue;  // an earlier row of this step already failed it
      if (hidden && !check_finite(s, t.position, hidden, dim, "hidden state (embedding output)")) continue;
      if (logits && !check_finite(s, t.position, logits, n_vocab, "logits")) continue;
      if (hidden) consume_hidden(s, hidden, dim);
      if (logits) consume_logits(s, t.position, logits, n_vocab);
    }
    // Retire finished sequences, keeping the others in admission order.
    std::vector<Sequence> still;
    for (auto& s : active) {
      if (is_finished(s)) {
        finalize(s);
        kv.release(s.slot);
        done.push_back(std::move(s.result));
      } else {
        still.push_back(std::move(s));
      }
    }
    active.swap(still);
    return done;
  }

  // Fails the sequence (status 2) if row[0, n) holds a NaN or Inf; every rank of a tensor-parallel
  // group holds the same row, so all of them decide alike.
  // One pass over a row that sampling, scoring or pooling reads anyway: a model with a NaN or Inf
  // in its weights must fail the records it touches, never hand back status 0 with NaN
  // log-probabilities or an arbitrary argmax.
  bool check_finite(Sequence& s, int32_t pos, const float* row, int64_t n, const char* what) {
    const size_t bad = first_non_finite(row, size_t(n));
    if (bad == size_t(n)) return true;
    fail_sequence(s, "record " + std::to_string(s.req.id) + ": non-finite " + what + " at position " +
                         std::to_string(pos) + " (" + (std::isnan(row[bad]) ? "NaN" : "Inf") + " at index " +
                         std::to_string(bad) +
                         "; NaN or Inf in the model's weights? `sci-infer inspect --check-finite` scans them)");
    return false;
  }

  void fail_sequence(Sequence& s, const std::string& msg) {
    s.result = error_result(s.req, msg);
    s.failed = true;
  }

  void consume_hidden(Sequence& s, const float* h, int32_t dim) {
    if (s.pooled.empty()) s.pooled.assign(dim, 0.0);
    for (int32_t j = 0; j < dim; ++j) s.pooled[j] = opt.pooling == Pooling::Mean ? s.pooled[j] + h[j] : h[j];
  }

  void consume_logits(Sequence& s, int32_t pos, const float* logits, int32_t n_vocab) {
    switch (s.req.task) {
      case Task::Logits: s.result.logits.insert(s.result.logits.end(), logits, logits + n_vocab); break;
      case Task::Score: {
        const float lp = token_logprob(logits, n_vocab, s.inputs[pos + 1 - s.n_emb]);
        if (!check_finite(s, pos, &lp, 1, "log-probability")) return;  // finite logits, float overflow
        s.result.logprobs.push_back(lp);
        break;
      }
      case Task::Generate: {
        float lp = 0.0f;
        const int32_t tok = sample_token(logits, n_vocab, s.req.sampling, s.req.id, uint64_t(pos + 1), &lp);
        if (!check_finite(s, pos, &lp, 1, "log-probability")) return;
        s.result.tokens.push_back(tok);
        s.result.logprobs.push_back(lp);
        const auto& stops = s.req.sampling.stop_tokens;
        if ((!s.req.sampling.ignore_eos && model->tokenizer().is_end_of_generation(tok)) ||
            std::find(stops.begin(), stops.end(), tok) != stops.end()) {
          s.result.finish = FinishReason::Stop;
        } else if (int32_t(s.result.tokens.size()) >= s.req.max_new_tokens || s.total() >= model->config().context) {
          s.result.finish = FinishReason::Length;
        } else {
          s.inputs.push_back(tok);  // becomes the next step's decode token
        }
        break;
      }
      case Task::Embed: break;
    }
  }

  static bool is_finished(const Sequence& s) {
    if (s.failed) return true;
    if (s.req.task == Task::Generate) return s.result.finish != FinishReason::None;
    return s.n_done >= s.n_prompt;
  }

  void finalize(Sequence& s) {
    if (s.failed) return;
    if (s.req.task == Task::Generate) {
      s.result.text = model->tokenizer().decode_continuation(s.result.tokens);
    } else if (s.req.task == Task::Embed) {
      const double div = opt.pooling == Pooling::Mean ? double(s.n_prompt) : 1.0;
      s.result.embedding.resize(s.pooled.size());
      for (size_t j = 0; j < s.pooled.size(); ++j) s.result.embedding[j] = static_cast<float>(s.pooled[j] / div);
      check_finite(s, s.n_prompt - 1, s.result.embedding.data(), int64_t(s.result.embedding.size()), "embedding");
    }
  }
};

namespace {

void check_options(const EngineOptions& options) { check_engine_options(options); }

// Ranks that load different model files would compute different things, silently: compare a
// fingerprint of each rank's file (its GGUF header: metadata and tensor table, plus its size;
// for a shard file, the fingerprint of the model it was cut from).
void check_same_model(const Model& model, MPI_Comm comm) {
  const std::string mine = model_fingerprint(model);
  char buf[65] = {};
  std::snprintf(buf, sizeof buf, "%s", mine.c_str());
  int size = 1;
  MPI_Comm_size(comm, &size);
  std::vector<char> all(size_t(size) * 65);
  MPI_Allgather(buf, 65, MPI_CHAR, all.data(), 65, MPI_CHAR, comm);
  for (int r = 1; r < size; ++r)
    if (std::strncmp(&all[size_t(r) * 65], all.data(), 65) != 0)
      throw Error("model files differ between ranks: rank 0's has fingerprint " + std::string(all.data()).substr(0, 16) +
                  "..., rank " + std::to_string(r) + "'s " + std::string(&all[size_t(r) * 65]).substr(0, 16) +
                  "... (this rank opened " + model.path() + ")");
}

// The checks that must pass before any collective call can be made on `comm`.
void check_communicator(MPI_Comm comm) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized)
    throw Error("Engine: MPI is not initialised (or already finalised); call MPI_Init before creating an engine");
  if (comm == MPI_COMM_NULL) throw Error("Engine: the communicator is MPI_COMM_NULL");
  int inter = 0;
  MPI_Comm_test_inter(comm, &inter);
  if (inter) throw Error("Engine: the communicator is an intercommunicator; pass an intracommunicator");
}

}  // namespace

Engine::Engine(std::shared_ptr<const Model> model, EngineOptions options) {
  ensure_kokkos_initialized(options.device);  // kokkos_runtime.cpp: picks the GPU
  check_options(options);
  if (options.tensor_parallel != 1)
    throw Error("Engine: tensor parallelism needs the collective constructor Engine(path, options, comm)");
  impl_ = std::make_unique<Impl>(std::move(model), options, MPI_COMM_NULL, MPI_COMM_NULL);
}

Engine::Engine(const std::string& model_path, EngineOptions options, MPI_Comm comm) {
  init_collective([&](int tp_rank) { return Model::open(shard_path(model_path, tp_rank)); }, options, comm);
}

Engine::Engine(std::shared_ptr<const Model> model, EngineOptions options, MPI_Comm comm) {
  init_collective(
      [&](int) {
        if (!model) throw Error("Engine: the model is null");
        return model;
      },
      options, comm);
}

void Engine::init_collective(const std::function<std::shared_ptr<const Model>(int tp_rank)>& open_model,
                             EngineOptions options, MPI_Comm comm) {
  check_communicator(comm);
  // Collective (every rank passes the same options): co-located ranks share the node's cores.
  if (options.threads == 0) options.threads = threads_per_rank(0, comm);
  // Consecutive groups of tensor_parallel ranks: ranks of one group are usually on one node.
  int size = 1, rank = 0;
  MPI_Comm_size(comm, &size);
  MPI_Comm_rank(comm, &rank);
  const int tp = options.tensor_parallel;
  if (tp < 1 || size % tp != 0)
    throw Error("Engine: tensor parallelism " + std::to_string(tp) + " does not divide the " + std::to_string(size) +
                " ranks of the communicator");
  MPI_Comm tp_comm = MPI_COMM_NULL;
  if (tp > 1) MPI_Comm_split(comm, rank / tp, rank % tp, &tp_comm);
  // Each stage catches every local failure so that this rank still joins the agreement that
  // follows it; stages that communicate start only once all ranks passed the previous one.
  std::unique_ptr<Impl> impl;
  std::shared_ptr<const Model> model;
  auto agree = [&](const std::function<void()>& stage) {
    std::string error;
    try {
      stage();
    } catch (const std::exception& e) {
      error = *e.what() ? e.what() : "unknown error";
    } catch (...) {
      error = "unknown error";
    }
    const RankFailure failure = first_failure(comm, error.empty() ? 0 : 1, error);
    if (failure.code != 0) {
      impl.reset();
      if (tp_comm != MPI_COMM_NULL) MPI_Comm_free(&tp_comm);
      throw Error(failure.message);
    }
  };
  agree([&] {
    ensure_kokkos_initialized(options.device, comm);  // collective: the node-local rank picks the GPU
    check_options(options);
    model = open_model(rank % tp);
  });
  agree([&] { check_same_model(*model, comm); });
  // Shape checks before the stage that communicates while loading (node-shared weights).
  agree([&] { ShardLayout::make(model->config(), tp, rank % tp); });
  agree([&] { impl = std::make_unique<Impl>(std::move(model), options, comm, tp_comm); });
  impl_ = std::move(impl);
  impl_->comm = comm;
  impl_->tp_comm = tp_comm;
}

Engine::~Engine() {
  if (!impl_ || impl_->tp_comm == MPI_COMM_NULL) return;
  MPI_Comm tp_comm = impl_->tp_comm;
  impl_.reset();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Comm_free(&tp_comm);
}

void Engine::submit(Request request) { impl_->submit(std::move(request)); }
std::vector<RecordResult> Engine::step() { return impl_->step(); }
bool Engine::idle() const { return impl_->waiting.empty() && impl_->active.empty() && impl_->finished_early.empty(); }

std::vector<RecordResult> Engine::run(std::vector<Request> requests) {
  std::map<uint64_t, size_t> order;
  for (size_t i = 0; i < requests.size(); ++i) order[requests[i].id] = i;
  if (order.size() != requests.size()) throw Error("Engine::run: request ids must be unique");
  for (auto& r : requests) submit(std::move(r));
  std::vector<RecordResult> results(requests.size());
  while (!idle())
    for (auto& r : step()) results[order.at(r.index)] = std::move(r);
  return results;
}

std::vector<float> Engine::logits(const std::vector<int32_t>& tokens, bool all_positions) {
  Request r;
  r.task = Task::Logits;
  r.tokens = tokens;
  r.all_positions = all_positions;
  auto res = run({r});
  if (res[0].status != 0) throw Error(res[0].error);
  return res[0].logits;
}

const Model& Engine::model() const { return *impl_->model; }
const EngineOptions& Engine::options() const { return impl_->opt; }
MPI_Comm Engine::comm() const { return impl_->comm; }
int Engine::tp_rank() const { return impl_->shard.rank; }
int Engine::tp_size() const { return impl_->shard.tp; }
MPI_Comm Engine::tp_comm() const { return impl_->tp_comm; }
uint64_t Engine::tp_bytes_received() const { return impl_->tp.bytes_received(); }
KvCacheStats Engine::kv_cache_stats() const { return impl_->kv.stats(); }
size_t Engine::weight_bytes() const { return impl_->weights.bytes(); }

}  // namespace sci_infer
