// In-situ inference from a running simulation, through the installed C++ API.
//
// A 2-D heat equation runs on all ranks. Every K steps each rank turns a coarse view of its part
// of the field into a short sequence of embedding vectors (d_model wide); the odd ranks hand
// theirs to their even neighbour, and the even ranks - the sub-communicator that holds the
// model - embed all of them in one batch. The answer steers the simulation's analysis cadence:
// when the field's embedding moved a lot since the last look, the next look comes twice as soon;
// when it hardly moved, twice as late. At the end: time in simulation vs in inference.
//
//   mpiexec -n 2 heat_insitu model.gguf [steps]
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <sci_infer/engine.hpp>

#include "heat_field.hpp"

namespace {

constexpr int kBands = 4;                     // embedding rows per rank per look
constexpr int kMinEvery = 5, kMaxEvery = 80;  // look cadence bounds (steps)
constexpr double kMoved = 2e-2, kStill = 2e-3;  // cosine-distance thresholds

double cosine_distance(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return aa > 0 && bb > 0 ? 1.0 - ab / std::sqrt(aa * bb) : 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc < 2) {
    if (rank == 0) std::fprintf(stderr, "usage: %s model.gguf [steps]\n", argv[0]);
    MPI_Finalize();
    return 2;
  }
  const int steps = argc > 2 ? std::atoi(argv[2]) : 600;

  // The inference sub-communicator: even ranks. Odd rank r sends its view to r - 1.
  const bool infers = rank % 2 == 0;
  MPI_Comm infer_comm = MPI_COMM_NULL;
  MPI_Comm_split(MPI_COMM_WORLD, infers ? 0 : MPI_UNDEFINED, rank, &infer_comm);
  const int partner = infers ? (rank + 1 < size ? rank + 1 : -1) : rank - 1;

  // Collective over infer_comm; a failure on any inference rank is told to every rank here, so
  // the simulation ranks do not wait forever for an engine that does not exist.
  std::unique_ptr<sci_infer::Engine> engine;
  std::string error;
  if (infers) {
    try {
      engine = std::make_unique<sci_infer::Engine>(argv[1], sci_infer::EngineOptions{}, infer_comm);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  int ok = error.empty(), all_ok = 0;
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  if (!all_ok) {
    if (!error.empty()) std::fprintf(stderr, "rank %d: cannot load the model: %s\n", rank, error.c_str());
    MPI_Finalize();
    return 1;
  }
  int d_model = infers ? engine->model().config().dim : 0;
  MPI_Bcast(&d_model, 1, MPI_INT, 0, MPI_COMM_WORLD);

  HeatField field(MPI_COMM_WORLD, 256, 64);
  std::vector<std::vector<float>> previous(2);  // last embeddings of (own, partner) sequences
  double t_sim = 0, t_infer = 0;
  int every = 20, next_look = every, looks = 0;
  for (int step = 1; step <= steps; ++step) {
    double t0 = MPI_Wtime();
    field.step();
    t_sim += MPI_Wtime() - t0;
    if (step != next_look) continue;

    t0 = MPI_Wtime();
    std::vector<float> view = field.coarse_view(kBands, d_model);
    double drift = 0.0;
    if (!infers) {
      MPI_Send(view.data(), int(view.size()), MPI_FLOAT, partner, 7, MPI_COMM_WORLD);
    } else {
      std::vector<sci_infer::Request> batch(partner >= 0 ? 2 : 1);
      for (size_t s = 0; s < batch.size(); ++s) {
        batch[s].id = uint64_t(looks) * size + rank + s;  // unique per batch
        batch[s].task = sci_infer::Task::Embed;
        batch[s].n_embedding_rows = kBands;
        batch[s].embeddings = view;
      }
      if (partner >= 0)
        MPI_Recv(batch[1].embeddings.data(), int(view.size()), MPI_FLOAT, partner, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      const auto results = engine->run(batch);
      for (size_t s = 0; s < results.size(); ++s) {
        if (results[s].status != 0) {
          std::fprintf(stderr, "rank %d: embedding failed: %s\n", rank, results[s].error.c_str());
          MPI_Abort(MPI_COMM_WORLD, 1);
        }
        if (!previous[s].empty()) drift = std::max(drift, cosine_distance(previous[s], results[s].embedding));
        previous[s] = results[s].embedding;
      }
      double local = drift;
      MPI_Allreduce(&local, &drift, 1, MPI_DOUBLE, MPI_MAX, infer_comm);
    }
    MPI_Bcast(&drift, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);  // world rank 0 is an inference rank
    t_infer += MPI_Wtime() - t0;

    // Act on the answer: look more often while the state changes, less often once it settles.
    if (looks > 0 && drift > kMoved) every = std::max(kMinEvery, every / 2);
    if (looks > 0 && drift < kStill) every = std::min(kMaxEvery, every * 2);
    ++looks;
    next_look = step + every;
    const double mean = field.mean();
    if (rank == 0)
      std::printf("step %4d: mean temperature %.5f, embedding drift %.3e -> next look in %d steps\n", step, mean, drift,
                  every);
  }

  double times[2] = {t_sim, t_infer}, max_times[2];
  MPI_Reduce(times, max_times, 2, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  if (rank == 0)
    std::printf("time: simulation %.3f s, inference %.3f s (%.1f%% of the loop), %d looks on %d of %d ranks\n",
                max_times[0], max_times[1], 100.0 * max_times[1] / (max_times[0] + max_times[1]), looks,
                (size + 1) / 2, size);
  engine.reset();  // before MPI_Finalize: the engine holds infer_comm
  if (infer_comm != MPI_COMM_NULL) MPI_Comm_free(&infer_comm);
  MPI_Finalize();
  return 0;
}
