// Fuzzer corpus regression: every file the GGUF fuzzer kept (test/fuzz/corpus) must either open
// or throw sci_infer::Error, through both the mmap path and the in-memory path. Runs in the
// normal suite, so a reader change that reintroduces a fuzzer-found crash fails without clang.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sci_infer/error.hpp"
#include "sci_infer/gguf.hpp"

using namespace sci_infer;

namespace {

// "opened", "error" or a description of what went wrong instead.
std::string outcome(const std::string& path, const std::vector<uint8_t>& bytes, bool use_mmap) {
  try {
    auto f = use_mmap ? GgufFile::open(path) : GgufFile::open_buffer(path, bytes.data(), bytes.size());
    // What the reader promises its callers about every tensor it accepts.
    for (const GgufTensorInfo& t : f->tensors()) {
      if (f->data_offset() > f->file_size() || t.offset + t.n_bytes > f->file_size() - f->data_offset()) {
        return "tensor '" + t.name + "' accepted past the end of the file";
      }
    }
    return "opened";
  } catch (const Error& e) {
    const std::string msg = e.what();
    return msg.rfind(path + ": ", 0) == 0 ? "error" : "error without the path: " + msg;
  } catch (const std::exception& e) {
    return std::string("unexpected exception: ") + e.what();
  }
}

}  // namespace

TEST_CASE("gguf: fuzzer corpus files open or raise sci_infer::Error", "[gguf][fuzz]") {
  const std::filesystem::path dir = std::filesystem::path(SCI_INFER_SOURCE_DIR) / "test" / "fuzz" / "corpus";
  REQUIRE(std::filesystem::is_directory(dir));
  size_t files = 0, opened = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string path = entry.path().string();
    std::ifstream in(path, std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
    INFO(path);
    const std::string via_map = outcome(path, bytes, true);
    CHECK((via_map == "opened" || via_map == "error"));
    CHECK(outcome(path, bytes, false) == via_map);  // both entry points agree
    ++files;
    opened += via_map == "opened";
  }
  CHECK(files >= 10);
  CHECK(opened >= 1);  // the corpus keeps valid files too, so the success path stays covered
}
