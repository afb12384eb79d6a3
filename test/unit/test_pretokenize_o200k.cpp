// The o200k ("gpt-4o", gpt-oss) pre-tokenizer: the scanner against the words Python's `regex`
// module finds with llama.cpp's pattern (test/data/o200k_split_vectors.json, written by
// test/python/gen_o200k_split_vectors.py from llama.cpp's own tokenizer test inputs and cases
// aimed at the pattern), its wiring into the byte-level BPE tokenizer, and whole tokenizations
// against llama.cpp's: test/data/ggml-vocab-o200k-synth.gguf{,.inp,.out}, a vocab-only gpt-oss
// file (make_gpt_oss_gguf.py --vocab-only: merges learnt across word boundaries, so that only the
// pre-tokenizer keeps them apart) with the ids llama.cpp gives (test/peer/llamacpp_tokenize.mjs).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/pretokenize_o200k.hpp"
#include "sci_infer/gguf.hpp"
#include "model/unicode_tables.hpp"
#include "sci_infer/tokenizer.hpp"

using namespace sci_infer;

namespace {

// Valid UTF-8 only (the vectors are): code points and the byte offset where each starts.
void decode(const std::string& s, std::vector<uint32_t>& cps, std::vector<size_t>& off) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    cps.push_back(cp);
    off.push_back(i);
    i += len;
  }
  off.push_back(s.size());
}

std::vector<std::string> split(const std::string& text) {
  std::vector<uint32_t> cps;
  std::vector<size_t> off;
  decode(text, cps, off);
  std::vector<std::pair<uint32_t, uint32_t>> words;
  pretok::split_o200k(0, cps.size(), [&](size_t k) { return cps[k]; },
                      [&](size_t k) { return unicode::classify(cps[k]); }, words);
  std::vector<std::string> out;
  for (const auto& [b, e] : words) out.push_back(text.substr(off[b], off[e] - off[b]));
  return out;
}

}  // namespace

TEST_CASE("o200k pre-tokenizer splits as llama.cpp's gpt-4o pattern", "[tokenizer][o200k]") {
  const auto path = std::filesystem::path(SCI_INFER_SOURCE_DIR) / "test" / "data" / "o200k_split_vectors.json";
  std::ifstream in(path);
  REQUIRE(in.good());
  const auto vectors = nlohmann::json::parse(in);
  REQUIRE(vectors.size() > 40);
  for (const auto& v : vectors) {
    const std::string text = v.at("text");
    INFO("text: " << text);
    CHECK(split(text) == v.at("words").get<std::vector<std::string>>());
  }
}

TEST_CASE("o200k pre-tokenizer: case changes split words, merges never cross them", "[tokenizer][o200k]") {
  CHECK(split("HelloWorld") == std::vector<std::string>{"Hello", "World"});
  CHECK(split("ÉCOLE") == std::vector<std::string>{"É", "COLE"});  // non-ASCII letters count as both cases
  CHECK(split(" I'M 12345") == std::vector<std::string>{" I'M", " ", "123", "45"});
  // Through the tokenizer: a merge "o W" applies inside GPT-2's word "HelloWorld" but not across
  // the o200k word boundary between "Hello" and "World".
  TokenizerVocab v;
  v.model = "gpt2";
  for (int c = 0x21; c <= 0x7E; ++c) v.tokens.push_back(std::string(1, static_cast<char>(c)));
  v.tokens.push_back("oW");
  v.merges = {"o W"};
  v.token_types.assign(v.tokens.size(), 1);
  v.add_bos = false;
  v.add_space_prefix = false;
  const int32_t oW = static_cast<int32_t>(v.tokens.size()) - 1;
  v.pre = "gpt-2";
  const auto gpt2 = Tokenizer(v).encode("HelloWorld", false);
  v.pre = "gpt-4o";
  const Tokenizer o200k(v);
  const auto ids = o200k.encode("HelloWorld", false);
  CHECK(std::count(gpt2.begin(), gpt2.end(), oW) == 1);
  CHECK(ids.size() == 10);
  CHECK(std::count(ids.begin(), ids.end(), oW) == 0);
  CHECK(o200k.decode(ids) == "HelloWorld");
}

TEST_CASE("o200k tokenizer matches llama.cpp on a synthetic gpt-oss vocabulary", "[tokenizer][o200k]") {
  const std::string base = std::string(SCI_INFER_SOURCE_DIR) + "/test/data/ggml-vocab-o200k-synth.gguf";
  std::ifstream inp(base + ".inp", std::ios::binary), out(base + ".out");
  REQUIRE(inp.good());
  REQUIRE(out.good());
  const std::string raw((std::istreambuf_iterator<char>(inp)), std::istreambuf_iterator<char>());
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t pos = 0;;) {
    const size_t next = raw.find(sep, pos);
    texts.push_back(raw.substr(pos, next == std::string::npos ? std::string::npos : next - pos));
    if (next == std::string::npos) break;
    pos = next + sep.size();
  }
  std::vector<std::vector<int32_t>> want;
  for (std::string line; std::getline(out, line);) {
    std::istringstream ls(line);
    want.emplace_back(std::istream_iterator<int32_t>(ls), std::istream_iterator<int32_t>());
  }
  REQUIRE(texts.size() == want.size());
  REQUIRE(texts.size() > 40);
  auto f = GgufFile::open(base);
  const TokenizerVocab v = read_tokenizer_vocab(*f);
  REQUIRE(v.pre == "gpt-4o");
  const Tokenizer tok(v);
  for (size_t i = 0; i < texts.size(); ++i) {
    INFO("input " << i << ": " << texts[i]);
    CHECK(tok.encode(texts[i], false) == want[i]);
  }
}
