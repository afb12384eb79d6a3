// Finiteness scan of a GGUF file's weights (`sci-infer inspect --check-finite`): a NaN or Inf
// anywhere in the weights makes every result it reaches meaningless, so users can look for one
// before a job instead of finding records failed with "non-finite logits".
#include <algorithm>
#include <cmath>
#include <vector>

#include "sci_infer/gguf.hpp"

namespace sci_infer {

bool find_non_finite(const GgufFile& f, NonFiniteValue* first) {
  constexpr uint64_t kChunkBlocks = 8192;  // decoded a chunk at a time: bounded scratch memory
  std::vector<float> buf;
  for (const GgufTensorInfo& t : f.tensors()) {
    const uint64_t block = ggml_block_elems(t.type), block_bytes = ggml_block_bytes(t.type);
    const uint64_t n_blocks = t.n_elements / block;  // rows are dense: the tensor is one run of blocks
    const uint8_t* data = f.tensor_data(t);
    for (uint64_t b0 = 0; b0 < n_blocks; b0 += kChunkBlocks) {
      const uint64_t nb = std::min(kChunkBlocks, n_blocks - b0);
      buf.resize(nb * block);
      decode_row(t.type, data + b0 * block_bytes, buf.data(), nb * block);
      for (uint64_t i = 0; i < nb * block; ++i) {
        if (std::isfinite(buf[i])) continue;
        if (first) {
          first->tensor = t.name;
          first->element = b0 * block + i;
          first->value = buf[i];
          first->index.clear();
          uint64_t rest = first->element;
          for (uint64_t d : t.ne) {
            first->index.push_back(rest % d);
            rest /= d;
          }
        }
        return true;
      }
    }
    f.release_resident_pages(data, t.n_bytes);
  }
  return false;
}

}  // namespace sci_infer
