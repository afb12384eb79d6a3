// Calling a model from C++ through the installed library: generate for two prompts and embed a
// small block of simulation vectors, all in one continuous batch.
//   embed_example model.gguf
#include <cstdio>
#include <sci_infer/engine.hpp>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s model.gguf\n", argv[0]);
    return 2;
  }
  auto model = sci_infer::Model::open(argv[1]);
  sci_infer::Engine engine(model, sci_infer::EngineOptions{});
  const int dim = model->config().dim;

  std::vector<sci_infer::Request> batch;
  for (uint64_t id : {0, 1}) {
    sci_infer::Request r;
    r.id = id;
    r.tokens = model->tokenizer().encode(id == 0 ? "temperature field" : "pressure anomaly", true);
    r.max_new_tokens = 8;
    batch.push_back(r);
  }
  sci_infer::Request field;  // four input vectors in place of token embeddings
  field.id = 2;
  field.task = sci_infer::Task::Embed;
  field.n_embedding_rows = 4;
  for (int i = 0; i < 4 * dim; ++i) field.embeddings.push_back(0.01f * float(i % 17));
  batch.push_back(field);

  for (const auto& res : engine.run(batch)) {
    if (res.status != 0) {
      std::fprintf(stderr, "record %lu failed: %s\n", (unsigned long)res.index, res.error.c_str());
      return 1;
    }
    if (!res.embedding.empty())
      std::printf("record %lu: embedding of %zu values, first %.4f\n", (unsigned long)res.index, res.embedding.size(),
                  res.embedding[0]);
    else
      std::printf("record %lu: %zu tokens: %s\n", (unsigned long)res.index, res.tokens.size(), res.text.c_str());
  }
  return 0;
}
