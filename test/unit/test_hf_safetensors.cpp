// Safetensors header validation (lib/io/safetensors.cpp) on images built here byte by byte from
// the format (u64 LE header length, JSON header, data), one rule broken per case; and the
// safetensors fuzzer's kept corpus (test/fuzz/safetensors_corpus) replayed.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "io/safetensors.hpp"
#include "sci_infer/error.hpp"

using namespace sci_infer;

namespace {

std::vector<uint8_t> image(const std::string& header, size_t data_bytes, bool pad = true) {
  std::string h = header;
  if (pad)
    while (h.size() % 8) h += ' ';
  std::vector<uint8_t> out(8);
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[i] = uint8_t(n >> (8 * i));
  out.insert(out.end(), h.begin(), h.end());
  out.resize(out.size() + data_bytes, 0);
  return out;
}

std::string error_of(const std::vector<uint8_t>& img) {
  try {
    parse_safetensors_header("t.safetensors", img.data(), img.size());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("safetensors: a valid header parses, tensors in data order", "[hf][safetensors]") {
  const auto img = image(R"({"b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]},)"
                         R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"__metadata__":{"format":"pt"}})",
                         22);
  const SafetensorsHeader h = parse_safetensors_header("t.safetensors", img.data(), img.size());
  REQUIRE(h.tensors.size() == 2);
  CHECK(h.tensors[0].name == "a");
  CHECK(h.tensors[0].shape == std::vector<uint64_t>{2, 2});
  CHECK(h.tensors[1].name == "b");
  CHECK(h.tensors[1].begin == 16);
  CHECK(h.metadata.at("format") == "pt");
  CHECK(h.data_start + 22 == img.size());
}

TEST_CASE("safetensors: each malformed header is refused naming the file and tensor", "[hf][safetensors]") {
  const std::string ok_a = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  CHECK(has(error_of({1, 2, 3}), "t.safetensors: truncated"));
  {
    auto img = image("{" + ok_a + "}", 8);
    img[5] = 1;  // header length 2^40
    CHECK(has(error_of(img), "header length"));
  }
  CHECK(has(error_of(image("{" + ok_a + "}", 4)), "'a'"));                    // data past the end
  CHECK(has(error_of(image("{" + ok_a + "}", 4)), "extend past the end"));
  CHECK(has(error_of(image("{" + ok_a + "}", 12)), "not indexed"));           // trailing bytes
  CHECK(has(error_of(image("[1,2]", 0)), "JSON object"));
  CHECK(has(error_of(image("{\"a\":", 0)), "not valid JSON"));
  CHECK(has(error_of(image("{" + ok_a + "," + ok_a + "}", 8)), "'a' appears twice"));
  CHECK(has(error_of(image(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)), "needs 12"));
  CHECK(has(error_of(image(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", 8)), "unknown dtype 'Q4'"));
  CHECK(has(error_of(image(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)), "non-negative"));
  CHECK(has(error_of(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8)), "end before begin"));
  CHECK(has(error_of(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", 8)), "unknown header field 'x'"));
  CHECK(has(error_of(image(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})", 8)),
            "too large"));
  CHECK(has(error_of(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12)),
            "overlap"));
  CHECK(has(error_of(image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)), "gap of 4"));
  CHECK(has(error_of(image(R"({"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},)"
                           R"("b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})", 6)),
            "not aligned"));
  CHECK(has(error_of(image(R"({"__metadata__":{"k":1}})", 0)), "__metadata__"));
}

TEST_CASE("safetensors: fuzzer corpus files parse or raise sci_infer::Error", "[hf][safetensors][fuzz]") {
  const std::filesystem::path dir = std::filesystem::path(SCI_INFER_SOURCE_DIR) / "test" / "fuzz" / "safetensors_corpus";
  int parsed = 0, files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(e.path(), std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ++files;
    try {
      parse_safetensors_header("corpus", bytes.data(), bytes.size());
      ++parsed;
    } catch (const Error& err) {
      CHECK(std::string(err.what()).rfind("corpus: ", 0) == 0);
    }
  }
  CHECK(files >= 3);
  CHECK(parsed >= 1);
}
