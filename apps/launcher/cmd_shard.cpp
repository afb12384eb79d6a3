// sci-infer shard: cut a model into one GGUF file per tensor-parallel rank, so that a job of
// thousands of ranks reads 1/tp of the model per rank instead of every rank mapping one huge
// file on the parallel file system. Each shard keeps the whole model's metadata (so it still
// describes the model) plus sci_infer.shard.{tp, rank, vocab_size, source_fingerprint}; its
// tensors are exactly the slices model/shard_layout.hpp gives that rank, so a job on shards
// computes the same bits as one on the original file.
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "commands.hpp"
#include "model/shard_layout.hpp"
#include "sci_infer/gguf.hpp"
#include "sci_infer/model.hpp"

namespace sci_infer::cli {
namespace {

struct ShardArgs {
  std::string model, out_dir;
  int tp = 2;
};

// A (possibly strided) slice as the dense bytes a GGUF tensor holds.
std::vector<uint8_t> dense_bytes(const WeightView& v) {
  const size_t row = ggml_row_bytes(v.type, v.n_in);
  std::vector<uint8_t> b(row * v.n_out);
  for (int64_t r = 0; r < v.n_out; ++r) std::memcpy(&b[r * row], v.row(r), row);
  return b;
}

int shard_model(const ShardArgs& a) {
  auto model = Model::open(a.model);
  const ModelConfig& c = model->config();
  if (c.shard_tp > 1) throw Error(a.model + " is already a shard (rank " + std::to_string(c.shard_rank) + " of " +
                                  std::to_string(c.shard_tp) + "); shard the original model");
  std::filesystem::create_directories(a.out_dir);
  const std::string stem = std::filesystem::path(a.model).stem().string();
  const std::string pattern = (std::filesystem::path(a.out_dir) / (stem + ".tp" + std::to_string(a.tp) +
                                                                   ".rank{tp_rank}.gguf")).string();
  const std::string fingerprint = model_fingerprint(*model);
  const GgufFile& f = model->file();
  for (int r = 0; r < a.tp; ++r) {
    const ShardLayout s = ShardLayout::make(c, a.tp, r);
    GgufWriter w;
    for (const std::string& key : f.metadata_keys()) w.set_value(key, f.value(key));
    w.set_uint32("sci_infer.shard.tp", uint32_t(a.tp));
    w.set_uint32("sci_infer.shard.rank", uint32_t(r));
    w.set_uint32("sci_infer.shard.vocab_size", uint32_t(c.n_vocab));
    w.set_string("sci_infer.shard.source_fingerprint", fingerprint);
    w.set_string("sci_infer.shard.source", std::filesystem::path(a.model).filename().string());
    for (const GgufTensorInfo& t : f.tensors()) {
      const WeightView v = shard_slice(*model, t.name, s);
      std::vector<uint64_t> ne = {uint64_t(v.n_in)};
      if (t.ne.size() > 1) ne.push_back(uint64_t(v.n_out));
      w.add_tensor_lazy(t.name, ne, v.type, [v] { return dense_bytes(v); });
    }
    const std::string path = shard_path(pattern, r);
    w.write(path, f.alignment());
    std::printf("%s: rank %d of %d, %.1f MiB\n", path.c_str(), r, a.tp,
                std::filesystem::file_size(path) / 1048576.0);
  }
  std::printf("run with: sci-infer run --tp %d --model '%s' ...\n", a.tp, pattern.c_str());
  return 0;
}

}  // namespace

Runner add_shard(CLI::App& app) {
  auto a = std::make_shared<ShardArgs>();
  app.add_option("model", a->model, "GGUF model file")->required();
  app.add_option("--tp", a->tp, "Tensor-parallel ranks to cut the model for")->required();
  app.add_option("--out,-o", a->out_dir, "Directory for the shard files")->required();
  return [a] { return shard_model(*a); };
}

}  // namespace sci_infer::cli
