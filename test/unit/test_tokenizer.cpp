// Tokenizer tests: the synthetic SentencePiece vocabulary, byte fallback, GGUF metadata
// reading, a small hand-made byte-level BPE vocabulary, and conformance with llama.cpp's
// tokenizer test vectors (hidden tag [tokenizer-conformance]; registered by test/tokenizer.cmake).
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sci_infer/error.hpp"
#include "sci_infer/gguf.hpp"
#include "sci_infer/tokenizer.hpp"

using sci_infer::Tokenizer;
using sci_infer::TokenizerVocab;

namespace {

const std::string kMarker = "\xE2\x96\x81";  // U+2581

int32_t id_of(const TokenizerVocab& v, const std::string& piece) {
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    if (v.tokens[i] == piece) return static_cast<int32_t>(i);
  }
  return -1;
}

std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/sci_infer_test_tok_" + name + ".gguf";
}

}  // namespace

// ---- synthetic vocabulary ----------------------------------------------------------------------

TEST_CASE("synthetic SPM vocabulary layout", "[tokenizer]") {
  for (uint32_t n : {300u, 1000u, 32000u, 40000u}) {
    const TokenizerVocab v = sci_infer::make_synthetic_spm_vocab(n);
    REQUIRE(v.tokens.size() == n);
    REQUIRE(v.scores.size() == n);
    REQUIRE(v.token_types.size() == n);
    CHECK(v.model == "llama");
    CHECK(v.bos_id == 1);
    CHECK(v.eos_id == 2);
    CHECK(v.unk_id == 0);
    CHECK(v.add_bos);
    CHECK_FALSE(v.add_eos);
    CHECK(v.add_space_prefix);
    CHECK(v.tokens[0] == "<unk>");
    CHECK(v.tokens[1] == "<s>");
    CHECK(v.tokens[2] == "</s>");
    CHECK(v.token_types[0] == 2);
    CHECK(v.token_types[1] == 3);
    CHECK(v.token_types[2] == 3);
    CHECK(v.tokens[3] == "<0x00>");
    CHECK(v.tokens[3 + 0xAB] == "<0xAB>");
    CHECK(v.tokens[258] == "<0xFF>");
    for (size_t i = 3; i < 259; ++i) CHECK(v.token_types[i] == 6);
    for (size_t i = 259; i < n; ++i) REQUIRE(v.token_types[i] == 1);
    CHECK(v.tokens[259] == kMarker);
    const std::set<std::string> distinct(v.tokens.begin(), v.tokens.end());
    CHECK(distinct.size() == n);
  }
  // Deterministic.
  const TokenizerVocab a = sci_infer::make_synthetic_spm_vocab(5000);
  const TokenizerVocab b = sci_infer::make_synthetic_spm_vocab(5000);
  CHECK(a.tokens == b.tokens);
  CHECK(a.scores == b.scores);
  // Longer pieces score higher.
  CHECK(a.scores[static_cast<size_t>(id_of(a, kMarker + "ab"))] > a.scores[static_cast<size_t>(id_of(a, "ab"))]);
  CHECK(a.scores[static_cast<size_t>(id_of(a, "ab"))] > a.scores[static_cast<size_t>(id_of(a, "a"))]);
  CHECK_THROWS_AS(sci_infer::make_synthetic_spm_vocab(299), sci_infer::Error);
  CHECK_THROWS_AS(sci_infer::make_synthetic_spm_vocab(0), sci_infer::Error);
}

TEST_CASE("synthetic SPM vocabulary encodes with the longest pieces", "[tokenizer]") {
  const TokenizerVocab v = sci_infer::make_synthetic_spm_vocab(32000);
  const Tokenizer tok(v);
  CHECK(tok.n_vocab() == 32000);
  CHECK(tok.bos() == 1);
  CHECK(tok.eos() == 2);
  // "the cat" -> "▁the" "▁cat" (3-letter pieces with the word prefix exist at 32000)
  const std::vector<int32_t> ids = tok.encode("the cat", true);
  REQUIRE(ids.size() == 3);
  CHECK(ids[0] == 1);
  CHECK(ids[1] == id_of(v, kMarker + "the"));
  CHECK(ids[2] == id_of(v, kMarker + "cat"));
  CHECK(tok.encode("the cat", false) == std::vector<int32_t>(ids.begin() + 1, ids.end()));
  CHECK(tok.decode(ids) == "the cat");
  // Generated tokens continue the prompt: their first word keeps its space (prompt + text).
  CHECK(tok.decode_continuation({ids[2]}) == " cat");
  CHECK(tok.decode_continuation(ids) == " the cat");
  CHECK(tok.token_to_piece(ids[1]) == " the");
  CHECK(tok.token_to_piece(1).empty());  // control tokens decode to nothing
  CHECK(tok.is_end_of_generation(2));
  CHECK_FALSE(tok.is_end_of_generation(1));
  CHECK_THROWS_AS(tok.token_to_piece(32000), sci_infer::Error);
  CHECK_THROWS_AS(tok.decode({-1}), sci_infer::Error);
}

TEST_CASE("synthetic SPM vocabulary round-trips text", "[tokenizer]") {
  for (uint32_t n : {300u, 2000u, 32000u}) {
    const Tokenizer tok(sci_infer::make_synthetic_spm_vocab(n));
    const std::vector<std::string> texts = {
        "",
        "Hello, world!",
        "The quick brown fox jumps over the lazy dog. 0123456789 ~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./",
        "caf\xC3\xA9 na\xC3\xAFve r\xC3\xA9sum\xC3\xA9 \xC3\x85ngstr\xC3\xB6m",              // accents
        "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C",                     // CJK
        "emoji \xF0\x9F\xA6\x99 \xF0\x9F\x98\x81\xF0\x9F\x9A\x80 done",                      // emoji
        " leading space",
        "  two leading spaces",
        "trailing space ",
        "many     spaces\t\ttabs\n\nnewlines\r\n  \n",
        " ",
        "   ",
        "\n",
        "\t",
        "a",
        "<s> and </s> are control tokens, written as plain text",
        "<0x41> is not a byte token in text",
    };
    for (const std::string& t : texts) {
      INFO("n_vocab=" << n << " text='" << t << "'");
      const std::vector<int32_t> ids = tok.encode(t, true);
      if (t.empty()) {
        CHECK(ids == std::vector<int32_t>{1});
        CHECK(tok.encode(t, false).empty());
      }
      for (int32_t id : ids) REQUIRE((id >= 0 && id < tok.n_vocab()));
      CHECK(tok.decode(ids) == t);
      CHECK(tok.decode(tok.encode(t, false)) == t);
    }
  }
}

TEST_CASE("SPM byte fallback and byte-token decoding", "[tokenizer]") {
  const TokenizerVocab v = sci_infer::make_synthetic_spm_vocab(1000);
  const Tokenizer tok(v);
  // "é" (C3 A9) is not a piece: the prefix "▁" stays alone, then two byte tokens.
  const std::vector<int32_t> ids = tok.encode("\xC3\xA9", false);
  CHECK(ids == std::vector<int32_t>{id_of(v, kMarker), 3 + 0xC3, 3 + 0xA9});
  CHECK(tok.decode(ids) == "\xC3\xA9");
  // Byte tokens decode to their raw byte, also when the bytes are not valid UTF-8 on their own.
  CHECK(tok.token_to_piece(3 + 0x41) == "A");
  CHECK(tok.token_to_piece(3 + 0x00) == std::string(1, '\0'));
  CHECK(tok.decode({3 + 0xF0, 3 + 0x9F}) == "\xF0\x9F");
  CHECK(tok.decode({3 + 0x0A}) == "\n");
  // Invalid UTF-8 survives the round trip through byte tokens.
  const std::string bad = "a\xFF" "b\xC3(\x80";
  CHECK(tok.decode(tok.encode(bad, false)) == bad);
  // A newline has no piece: byte token.
  CHECK(tok.encode("a\nb", false) == std::vector<int32_t>{id_of(v, kMarker + "a"), 3 + 0x0A, id_of(v, "b")});
}

TEST_CASE("SPM merge order follows scores, leftmost on ties", "[tokenizer]") {
  TokenizerVocab v;
  v.model = "llama";
  v.tokens = {"<unk>", "<s>", "</s>", kMarker, "a", "b", "c", "ab", "bc", kMarker + "a", "abc"};
  v.scores = {0, 0, 0, 1, 1, 1, 1, 2, 3, 2, 4};
  v.token_types = {2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1};
  v.unk_id = 0;
  v.bos_id = 1;
  v.eos_id = 2;
  v.add_space_prefix = false;
  {
    const Tokenizer tok(v);
    // "bc" (score 3) beats "ab" (2): a + bc, then a + bc -> "abc" (4).
    CHECK(tok.encode("abc", false) == std::vector<int32_t>{10});
    // No byte tokens and no piece for 'x': falls back to <unk>.
    CHECK(tok.encode("x", false) == std::vector<int32_t>{0});
    CHECK(tok.encode("a a", false) == std::vector<int32_t>{4, 9});
  }
  v.scores[8] = 2;  // "ab" and "bc" tie: the leftmost pair ("ab") merges first
  v.tokens[10] = "zzz";
  {
    const Tokenizer tok(v);
    CHECK(tok.encode("abc", false) == std::vector<int32_t>{7, 6});
  }
}

// ---- a tiny byte-level BPE vocabulary -----------------------------------------------------------

namespace {

// GPT-2 byte alphabet: ' ' -> U+0120 'Ġ', '\n' -> U+010A 'Ċ'.
const std::string kG = "\xC4\xA0";
const std::string kC = "\xC4\x8A";

TokenizerVocab tiny_bpe(const std::string& pre) {
  TokenizerVocab v;
  v.model = "gpt2";
  v.pre = pre;
  for (int c = 0x21; c <= 0x7E; ++c) v.tokens.push_back(std::string(1, static_cast<char>(c)));
  v.tokens.push_back(kG);
  v.tokens.push_back(kC);
  const std::vector<std::string> merged = {"he", "ll", "hell", "hello", kG + "w", kG + "wo", "or", "ld",
                                           kG + "world", kG + kG, "12", "123", "<|eot|>"};
  for (const auto& m : merged) v.tokens.push_back(m);
  v.merges = {"h e", "l l", "he ll", "hell o", kG + " w", kG + "w o", "o r", "l d", kG + "wo rld",
              kG + " " + kG, "1 2", "12 3", "r ld"};
  v.token_types.assign(v.tokens.size(), 1);
  v.token_types.back() = 3;
  v.eos_id = static_cast<int32_t>(v.tokens.size()) - 1;
  v.add_bos = false;
  v.add_space_prefix = false;
  return v;
}

}  // namespace

TEST_CASE("byte-level BPE merges by rank within pre-tokens", "[tokenizer]") {
  const TokenizerVocab v = tiny_bpe("gpt-2");
  const Tokenizer tok(v);
  auto ids_of = [&](const std::vector<std::string>& pieces) {
    std::vector<int32_t> r;
    for (const auto& p : pieces) r.push_back(id_of(v, p));
    return r;
  };
  CHECK(tok.encode("hello", false) == ids_of({"hello"}));
  // " world": Ġ w (rank 4), then Ġw o (5); "o r" (6) is stale since o is taken; l d (7);
  // r ld (12, "rld" is no token: a virtual symbol); Ġwo rld (8) -> Ġworld.
  CHECK(tok.encode(" world", false) == ids_of({kG + "world"}));
  CHECK(tok.encode("hello world", false) == ids_of({"hello", kG + "world"}));
  // Whitespace run before a word: \s+(?!\S) takes one space, then " hello" is one pre-token
  // (no merge joins Ġ and h): Ġ, Ġ, hello.
  CHECK(tok.encode("  hello", false) == ids_of({kG, kG, "hello"}));
  CHECK(tok.encode("\n", false) == ids_of({kC}));
  CHECK(tok.encode("123", false) == ids_of({"123"}));
  CHECK(tok.encode("", false).empty());
  CHECK(tok.decode(tok.encode("hello world\n  123!", false)) == "hello world\n  123!");
  CHECK(tok.decode(ids_of({kG + "world"})) == " world");
  CHECK(tok.decode({tok.eos()}).empty());
  CHECK(tok.is_end_of_generation(tok.eos()));

  // Llama-3 pre-tokenizer: digits in groups of three, ignore_merges, contractions ignoring case.
  const Tokenizer l3(tiny_bpe("llama-bpe"));
  CHECK(l3.encode("1231", false) == ids_of({"123", "1"}));
  const Tokenizer gp(tiny_bpe("gpt-2"));
  CHECK(gp.encode("1231", false) == std::vector<int32_t>{id_of(v, "123"), id_of(v, "1")});
  CHECK_THROWS_AS(Tokenizer(tiny_bpe("no-such-pre")), sci_infer::Error);
}

TEST_CASE("user-defined tokens are split out of the text", "[tokenizer]") {
  TokenizerVocab v = tiny_bpe("gpt-2");
  v.tokens.push_back("<think>");
  v.token_types.push_back(4);
  const int32_t think = static_cast<int32_t>(v.tokens.size()) - 1;
  const Tokenizer tok(v);
  const std::vector<int32_t> ids = tok.encode("hello<think>hello", false);
  CHECK(ids == std::vector<int32_t>{id_of(v, "hello"), think, id_of(v, "hello")});
  CHECK(tok.decode(ids) == "hello<think>hello");
  // Control tokens in the text are plain text.
  const std::vector<int32_t> c = tok.encode("<|eot|>", false);
  CHECK(c.size() > 1);
  CHECK(tok.decode(c) == "<|eot|>");
}

// ---- GGUF metadata --------------------------------------------------------------------------------

TEST_CASE("read_tokenizer_vocab reads and validates tokenizer.ggml.*", "[tokenizer]") {
  const TokenizerVocab syn = sci_infer::make_synthetic_spm_vocab(400);
  const std::string path = temp_path("spm");
  auto write = [&](const std::function<void(sci_infer::GgufWriter&)>& edit) {
    sci_infer::GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_string("tokenizer.ggml.model", "llama");
    w.set_string_array("tokenizer.ggml.tokens", syn.tokens);
    w.set_float32_array("tokenizer.ggml.scores", syn.scores);
    w.set_int32_array("tokenizer.ggml.token_type", syn.token_types);
    w.set_uint32("tokenizer.ggml.bos_token_id", 1);
    w.set_uint32("tokenizer.ggml.eos_token_id", 2);
    edit(w);
    w.write(path);
    return sci_infer::GgufFile::open(path);
  };
  {
    auto f = write([](sci_infer::GgufWriter&) {});
    const TokenizerVocab v = sci_infer::read_tokenizer_vocab(*f);
    CHECK(v.model == "llama");
    CHECK(v.pre == "default");
    CHECK(v.tokens == syn.tokens);
    CHECK(v.scores == syn.scores);
    CHECK(v.token_types == syn.token_types);
    CHECK(v.bos_id == 1);
    CHECK(v.eos_id == 2);
    CHECK(v.unk_id == 0);
    CHECK(v.pad_id == -1);
    CHECK(v.add_bos);
    CHECK_FALSE(v.add_eos);
    CHECK(v.add_space_prefix);
    const Tokenizer tok(v);
    CHECK(tok.decode(tok.encode("round trip", true)) == "round trip");
  }
  {
    auto f = write([](sci_infer::GgufWriter& w) {
      w.set_bool("tokenizer.ggml.add_bos_token", false);
      w.set_bool("tokenizer.ggml.add_space_prefix", false);
      w.set_uint32("tokenizer.ggml.padding_token_id", 0);
    });
    const TokenizerVocab v = sci_infer::read_tokenizer_vocab(*f);
    CHECK_FALSE(v.add_bos);
    CHECK_FALSE(v.add_space_prefix);
    CHECK(v.pad_id == 0);
  }
  auto expect_error = [&](const std::function<void(sci_infer::GgufWriter&)>& edit, const std::string& needle) {
    auto f = write(edit);
    try {
      sci_infer::read_tokenizer_vocab(*f);
      FAIL("no error; expected one mentioning '" << needle << "'");
    } catch (const sci_infer::Error& e) {
      const std::string msg = e.what();
      INFO(msg);
      CHECK(msg.find(path) == 0);
      CHECK(msg.find(needle) != std::string::npos);
    }
  };
  expect_error([](sci_infer::GgufWriter& w) { w.set_string("tokenizer.ggml.model", "bert"); },
               "tokenizer model 'bert' is not supported (llama, gpt2)");
  expect_error([](sci_infer::GgufWriter& w) { w.set_uint32("tokenizer.ggml.eos_token_id", 400); },
               "tokenizer.ggml.eos_token_id");
  expect_error([](sci_infer::GgufWriter& w) { w.set_float32_array("tokenizer.ggml.scores", {1.0f, 2.0f}); },
               "tokenizer.ggml.scores");
  expect_error([](sci_infer::GgufWriter& w) { w.set_int32_array("tokenizer.ggml.token_type", {1}); },
               "tokenizer.ggml.token_type");
  expect_error([](sci_infer::GgufWriter& w) { w.set_string("tokenizer.ggml.model", "gpt2"); },
               "tokenizer.ggml.merges");
  expect_error(
      [](sci_infer::GgufWriter& w) {
        w.set_string("tokenizer.ggml.model", "gpt2");
        w.set_string("tokenizer.ggml.pre", "mystery");
        w.set_string_array("tokenizer.ggml.merges", {"a b"});
      },
      "mystery");
  std::remove(path.c_str());
}

TEST_CASE("read_tokenizer_vocab: gpt2 defaults and end-of-turn detection", "[tokenizer]") {
  TokenizerVocab base = tiny_bpe("qwen2");
  base.tokens.push_back("<|im_end|>");
  base.token_types.push_back(3);
  const std::string path = temp_path("bpe");
  for (const std::string pre : {"qwen2", "llama-bpe"}) {
    sci_infer::GgufWriter w;
    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_string("tokenizer.ggml.pre", pre);
    w.set_string_array("tokenizer.ggml.tokens", base.tokens);
    w.set_int32_array("tokenizer.ggml.token_type", base.token_types);
    w.set_string_array("tokenizer.ggml.merges", base.merges);
    w.set_uint32("tokenizer.ggml.bos_token_id", 0);
    w.set_uint32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(base.eos_id));
    w.write(path);
    auto f = sci_infer::GgufFile::open(path);
    const TokenizerVocab v = sci_infer::read_tokenizer_vocab(*f);
    CHECK(v.model == "gpt2");
    CHECK(v.pre == pre);
    CHECK(v.merges == base.merges);
    CHECK(v.scores.empty());
    CHECK(v.add_bos == (pre == "llama-bpe"));  // as llama.cpp: Llama-3 vocabularies add BOS
    CHECK(v.eot_id == static_cast<int32_t>(base.tokens.size()) - 1);
    const Tokenizer tok(v);
    CHECK(tok.is_end_of_generation(v.eot_id));
    CHECK(tok.is_end_of_generation(v.eos_id));
    CHECK_FALSE(tok.is_end_of_generation(0));
    CHECK(tok.encode("hello", true).front() == (pre == "llama-bpe" ? 0 : id_of(v, "hello")));
  }
  std::remove(path.c_str());
}

TEST_CASE("read_tokenizer_vocab requires the token list", "[tokenizer]") {
  const std::string path = temp_path("empty");
  sci_infer::GgufWriter w;
  w.set_string("tokenizer.ggml.model", "llama");
  w.write(path);
  auto f = sci_infer::GgufFile::open(path);
  try {
    sci_infer::read_tokenizer_vocab(*f);
    FAIL("no error");
  } catch (const sci_infer::Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find(path) == 0);
    CHECK(msg.find("tokenizer.ggml.tokens") != std::string::npos);
  }
  std::remove(path.c_str());
}

// ---- conformance with llama.cpp's test vectors -------------------------------------------------------

namespace {

std::string vocab_dir() {
  const char* d = std::getenv("SCI_INFER_VOCAB_DIR");
  return d && *d ? d : "/tmp/peer/llama.cpp/models";
}

bool file_exists(const std::string& p) { return std::ifstream(p).good(); }

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Same format as llama.cpp's tests/test-tokenizer-0.cpp: inputs separated by
// "\n__ggml_vocab_test__\n"; one line of space-separated ids per input.
void run_conformance(const std::string& name) {
  const std::string base = vocab_dir() + "/ggml-vocab-" + name + ".gguf";
  if (!file_exists(base) || !file_exists(base + ".inp") || !file_exists(base + ".out")) {
    WARN("SKIPPED: tokenizer conformance '" << name << "': " << base
                                             << "{,.inp,.out} not found (set SCI_INFER_VOCAB_DIR)");
    return;
  }
  const std::string raw = slurp(base + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  for (size_t pos = 0; pos < raw.size();) {
    const size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      inputs.push_back(raw.substr(pos));
      break;
    }
    inputs.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<std::vector<int32_t>> expected;
  {
    std::ifstream out(base + ".out");
    for (std::string line; std::getline(out, line);) {
      std::istringstream ls(line);
      std::vector<int32_t> ids;
      for (int32_t id; ls >> id;) ids.push_back(id);
      expected.push_back(ids);
    }
  }
  REQUIRE(inputs.size() == expected.size());
  REQUIRE(!inputs.empty());

  auto f = sci_infer::GgufFile::open(base);
  const Tokenizer tok(sci_infer::read_tokenizer_vocab(*f));
  size_t matched = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<int32_t> got = tok.encode(inputs[i], /*add_special=*/false);
    CHECK(tok.decode(got) == inputs[i]);  // lossless round trip (no special tokens in the inputs)
    if (got == expected[i]) {
      ++matched;
      continue;
    }
    std::ostringstream msg;
    msg << name << " input " << i << " '" << inputs[i] << "'\n  expected:";
    for (int32_t id : expected[i]) msg << ' ' << id;
    msg << "\n  got:     ";
    for (int32_t id : got) msg << ' ' << id;
    FAIL_CHECK(msg.str());
  }
  WARN("tokenizer conformance '" << name << "': " << matched << "/" << inputs.size() << " inputs matched");
  CHECK(matched == inputs.size());
}

}  // namespace

TEST_CASE("tokenizer conformance: llama-spm", "[.][tokenizer-conformance]") { run_conformance("llama-spm"); }
TEST_CASE("tokenizer conformance: llama-bpe", "[.][tokenizer-conformance]") { run_conformance("llama-bpe"); }
TEST_CASE("tokenizer conformance: gpt-2", "[.][tokenizer-conformance]") { run_conformance("gpt-2"); }
TEST_CASE("tokenizer conformance: phi-3", "[.][tokenizer-conformance]") { run_conformance("phi-3"); }
TEST_CASE("tokenizer conformance: qwen2", "[.][tokenizer-conformance]") { run_conformance("qwen2"); }
TEST_CASE("tokenizer conformance: mpt", "[.][tokenizer-conformance]") { run_conformance("mpt"); }
TEST_CASE("tokenizer conformance: starcoder", "[.][tokenizer-conformance]") { run_conformance("starcoder"); }
TEST_CASE("tokenizer conformance: refact", "[.][tokenizer-conformance]") { run_conformance("refact"); }
TEST_CASE("tokenizer conformance: command-r", "[.][tokenizer-conformance]") { run_conformance("command-r"); }
