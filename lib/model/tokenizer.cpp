// Tokenizers for GGUF vocabularies: SentencePiece-style ("llama") and byte-level BPE ("gpt2").
//
// The behaviour follows llama.cpp's llm_tokenizer_spm / llm_tokenizer_bpe (src/llama-vocab.cpp)
// so that token ids match its test vectors (models/ggml-vocab-*.gguf.inp/.out, tokenized with
// add_special = false, parse_special = false):
//  * Text is first split around user-defined tokens (token type 4), longest token first, as
//    llama.cpp does even when special-token parsing is off. Control tokens in the text are
//    tokenized as plain text.
//  * SPM: spaces become U+2581, a U+2581 is prepended to each text fragment that starts the
//    input or follows a user-defined token (when add_space_prefix), then adjacent symbols
//    (initially UTF-8 characters) are merged greedily: highest vocabulary score first,
//    leftmost on ties, a pair being a candidate only when its concatenation is a token.
//    Symbols that are not tokens fall back to <0xXX> byte tokens.
//  * BPE: a pre-tokenizer (hand-written scanner equivalent to the model's regex) splits the
//    text into words; each word's bytes are mapped to GPT-2's printable byte alphabet and
//    merged by merge rank (lowest first, leftmost on ties). For the Llama-3 family a word
//    that is itself a token is emitted whole (llama.cpp's ignore_merges).
//  * User-defined tokens whose text llama.cpp recognises as end-of-turn / fill-in-the-middle
//    markers ("</s>", "<|im_end|>", ...) are treated as control tokens, as llama.cpp does.
// Checked against llama.cpp (v0.5.0 / de3ff815) on its test vectors and on random text for the
// llama-spm, phi-3, llama-bpe, gpt-2, qwen2, mpt, starcoder, refact and command-r vocabularies.
// Deliberate differences from llama.cpp:
//  * Invalid UTF-8 bytes are kept as they are (byte-level BPE encodes them losslessly)
//    instead of being replaced by U+FFFD.
//  * The lstrip/rstrip attributes llama.cpp sets for a few models by name (phi-3) are not
//    applied around user-defined tokens.
//  * decode() is lossless: no clean_up_tokenization_spaces pass for BPE vocabularies.
// Unicode classes (\p{L}, \p{N}, \s) come from lib/model/unicode_tables.cpp (Unicode 14.0).
// encode() is const and touches no shared mutable state: safe to call from many threads.
#include "sci_infer/tokenizer.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <queue>
#include <utility>

#include "model/pretokenize_o200k.hpp"
#include "model/unicode_tables.hpp"
#include "sci_infer/error.hpp"
#include "sci_infer/gguf.hpp"

namespace sci_infer {

namespace {

constexpr int32_t kTypeNormal = 1;
constexpr int32_t kTypeUnknown = 2;
constexpr int32_t kTypeControl = 3;
constexpr int32_t kTypeUserDefined = 4;
constexpr int32_t kTypeUnused = 5;
constexpr int32_t kTypeByte = 6;

const char* const kSpaceMarker = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK
constexpr size_t kSpaceMarkerLen = 3;

// Length of the UTF-8 sequence a lead byte announces (1 for continuation/invalid bytes), as
// llama.cpp's unicode_len_utf8.
inline size_t utf8_len(unsigned char c) {
  static const uint8_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return lookup[c >> 4];
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// One decoded code point of the input. Invalid bytes become a one-byte "code point" of
// class Other with cp = 0xFFFFFFFF, so word boundaries still fall on byte offsets.
struct CodePoint {
  uint32_t cp;
  uint32_t off;  // byte offset in the fragment
  unicode::CharClass cls;
};

constexpr uint32_t kInvalidCp = 0xFFFFFFFFu;

void decode_utf8(std::string_view s, std::vector<CodePoint>& out) {
  out.clear();
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    uint32_t cp = kInvalidCp;
    size_t len = 1;
    if (c < 0x80) {
      cp = c;
    } else {
      const size_t want = utf8_len(c);
      if (want > 1 && i + want <= n) {
        bool ok = true;
        for (size_t k = 1; k < want; ++k) ok = ok && (p[i + k] & 0xC0) == 0x80;
        if (ok) {
          if (want == 2) cp = ((c & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu);
          else if (want == 3) cp = ((c & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
          else if ((c & 0x08) == 0)
            cp = ((c & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) | ((p[i + 2] & 0x3Fu) << 6) | (p[i + 3] & 0x3Fu);
          if (cp != kInvalidCp && cp <= 0x10FFFF) len = want;
          else cp = kInvalidCp;
        }
      }
    }
    out.push_back({cp, static_cast<uint32_t>(i),
                   cp == kInvalidCp ? unicode::CharClass::Other : unicode::classify(cp)});
    i += len;
  }
}

// GPT-2's reversible byte -> printable code point mapping (bytes_to_unicode()).
struct ByteAlphabet {
  std::array<uint32_t, 256> byte_to_cp{};
  std::array<std::string, 256> byte_to_utf8;
  std::array<int16_t, 512> cp_to_byte{};  // every mapped code point is < 512
  ByteAlphabet() {
    cp_to_byte.fill(-1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      byte_to_cp[b] = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + n++);
      append_utf8(byte_to_utf8[b], byte_to_cp[b]);
      cp_to_byte[byte_to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteAlphabet& byte_alphabet() {
  static const ByteAlphabet a;
  return a;
}

// ---- pre-tokenizers ---------------------------------------------------------------------------
// Each scanner appends [begin, end) code point index ranges of the words of cps[b, e), with e
// treated as the end of the text (for the regex lookahead), exactly as a leftmost-first regex
// engine would split with the pattern named in the comment.

using unicode::CharClass;
using Words = std::vector<std::pair<uint32_t, uint32_t>>;

inline bool is_cr_lf(uint32_t cp) { return cp == '\r' || cp == '\n'; }
inline uint32_t ascii_lower(uint32_t cp) { return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp; }

// Length of a contraction 's 't 're 've 'm 'll 'd at i (0 if none).
size_t contraction_len(const std::vector<CodePoint>& cps, size_t i, size_t e, bool ignore_case) {
  if (cps[i].cp != '\'' || i + 1 >= e) return 0;
  auto at = [&](size_t k) { return ignore_case ? ascii_lower(cps[k].cp) : cps[k].cp; };
  const uint32_t c1 = at(i + 1);
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
  if (i + 2 < e) {
    const uint32_t c2 = at(i + 2);
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
  }
  return 0;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
void split_gpt2(const std::vector<CodePoint>& cps, size_t b, size_t e, Words& words) {
  size_t i = b;
  while (i < e) {
    size_t end = i + contraction_len(cps, i, e, false);
    if (end == i) {
      const size_t j = (cps[i].cp == ' ' && i + 1 < e) ? i + 1 : i;
      const CharClass c = cps[j].cls;
      if (c != CharClass::Space) {  // ' ?' then a run of letters, numbers or others
        end = j;
        while (end < e && cps[end].cls == c) ++end;
      } else {
        size_t k = i;
        while (k < e && cps[k].cls == CharClass::Space) ++k;
        end = (k < e && k - i > 1) ? k - 1 : k;  // \s+(?!\S) backs off one before a non-space
      }
    }
    words.emplace_back(static_cast<uint32_t>(i), static_cast<uint32_t>(end));
    i = end;
  }
}

// Llama-3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//          ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// Qwen2 is the same with \p{N} instead of \p{N}{1,3} (max_digits = 1).
void split_llama3(const std::vector<CodePoint>& cps, size_t b, size_t e, size_t max_digits, Words& words) {
  size_t i = b;
  while (i < e) {
    size_t end = i + contraction_len(cps, i, e, true);
    if (end == i) {
      const CharClass c = cps[i].cls;
      if (c == CharClass::Letter ||
          (c != CharClass::Number && !is_cr_lf(cps[i].cp) && i + 1 < e && cps[i + 1].cls == CharClass::Letter)) {
        end = i + 1;
        while (end < e && cps[end].cls == CharClass::Letter) ++end;
      } else if (c == CharClass::Number) {
        end = i;
        while (end < e && end - i < max_digits && cps[end].cls == CharClass::Number) ++end;
      } else {
        const size_t j = (cps[i].cp == ' ' && i + 1 < e) ? i + 1 : i;
        if (cps[j].cls == CharClass::Other) {
          end = j;
          while (end < e && cps[end].cls == CharClass::Other) ++end;
          while (end < e && is_cr_lf(cps[end].cp)) ++end;
        } else {  // c == Space
          size_t k = i;
          size_t last_crlf = 0;
          while (k < e && cps[k].cls == CharClass::Space) {
            if (is_cr_lf(cps[k].cp)) last_crlf = k + 1;
            ++k;
          }
          if (last_crlf > 0) end = last_crlf;              // \s*[\r\n]+
          else end = (k < e && k - i > 1) ? k - 1 : k;     // \s+(?!\S) | \s+
        }
      }
    }
    words.emplace_back(static_cast<uint32_t>(i), static_cast<uint32_t>(end));
    i = end;
  }
}

enum class PreType { Gpt2, DigitsThenGpt2, Llama3, Qwen2, O200k };

bool pre_type_from_name(const std::string& pre, PreType& type, bool& ignore_merges) {
  static const char* const gpt2[] = {"default", "gpt-2", "phi-2", "mpt", "olmo", "jina-es",
                                     "jina-de", "jina-v2-es", "jina-v2-de", "gigachat"};
  static const char* const digits_gpt2[] = {"starcoder", "refact", "command-r", "smollm", "codeshell"};
  static const char* const llama3[] = {"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral"};
  static const char* const llama3_keep_merges[] = {"dbrx", "smaug-bpe"};
  static const char* const qwen2[] = {"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"};
  auto in = [&](const auto& list) {
    return std::any_of(std::begin(list), std::end(list), [&](const char* s) { return pre == s; });
  };
  ignore_merges = false;
  if (in(gpt2)) type = PreType::Gpt2;
  else if (in(digits_gpt2)) type = PreType::DigitsThenGpt2;
  else if (in(llama3)) { type = PreType::Llama3; ignore_merges = true; }
  else if (in(llama3_keep_merges)) type = PreType::Llama3;
  else if (in(qwen2)) type = PreType::Qwen2;
  else if (pre == "gpt-4o") type = PreType::O200k;  // gpt-oss
  else return false;
  return true;
}

const char* const kSupportedPre =
    "default, gpt-2, phi-2, mpt, olmo, starcoder, refact, command-r, smollm, llama3, llama-bpe, "
    "falcon3, pixtral, dbrx, smaug-bpe, qwen2, deepseek-r1-qwen, stablelm2, megrez, gpt-4o";

void pretokenize(PreType type, const std::vector<CodePoint>& cps, Words& words) {
  words.clear();
  const size_t n = cps.size();
  switch (type) {
    case PreType::Gpt2: split_gpt2(cps, 0, n, words); break;
    case PreType::DigitsThenGpt2: {  // "\p{N}" isolates each digit, then GPT-2 on the rest
      size_t seg = 0;
      for (size_t i = 0; i <= n; ++i) {
        if (i == n || cps[i].cls == CharClass::Number) {
          if (i > seg) split_gpt2(cps, seg, i, words);
          if (i < n) words.emplace_back(static_cast<uint32_t>(i), static_cast<uint32_t>(i + 1));
          seg = i + 1;
        }
      }
      break;
    }
    case PreType::Llama3: split_llama3(cps, 0, n, 3, words); break;
    case PreType::Qwen2: split_llama3(cps, 0, n, 1, words); break;
    case PreType::O200k:
      pretok::split_o200k(0, n, [&](size_t k) { return cps[k].cp; }, [&](size_t k) { return cps[k].cls; }, words);
      break;
  }
}

// ---- merge work queues ------------------------------------------------------------------------

struct Symbol {
  int32_t prev, next;
  uint32_t start, n;  // bytes in the (escaped) fragment
  int32_t id;         // BPE: token id of the symbol's text (or a virtual id, or -1)
};

struct SpmBigram {
  float score;
  int32_t left, right;
  uint32_t size;
  int32_t id;
  bool operator<(const SpmBigram& o) const {  // priority_queue top = highest score, leftmost
    return score < o.score || (score == o.score && left > o.left);
  }
};

struct BpeBigram {
  int32_t rank;
  int32_t left, right;
  int32_t left_id, right_id, result_id;
  bool operator<(const BpeBigram& o) const {  // top = lowest rank, leftmost
    return rank > o.rank || (rank == o.rank && left > o.left);
  }
};

// Texts llama.cpp (llama-vocab.cpp, EOT/EOG/EOM/FIM detection) always treats as control tokens.
bool is_control_marker(const std::string& t) {
  static const char* const kMarkers[] = {
      "</s>", "<EOT>", "<MID>", "<PAD>", "<PRE>", "<REPO>", "<SUF>", "<end_of_turn>", "<end_of_utterance>",
      "<eos>", "<fim-middle>", "<fim-pad>", "<fim-prefix>", "<fim-repo>", "<fim-suffix>", "<fim_middle>",
      "<fim_pad>", "<fim_prefix>", "<fim_suffix>", "<reponame>", "<turn|>", "<|calls|>", "<|call|>",
      "<|code_middle|>", "<|code_prefix|>", "<|code_suffix|>", "<|end_of_text|>", "<|endoftext|>", "<|end|>",
      "<|eom_id|>", "<|eot_id|>", "<|file_sep|>", "<|fim_middle|>", "<|fim_pad|>", "<|fim_prefix|>",
      "<|fim_repo|>", "<|fim_suffix|>", "<|flush|>", "<|im_end|>", "<|middle|>", "<|prefix|>",
      "<|repo_name|>", "<|return|>", "<|suffix|>", "<|tool_response>",
      "<｜end▁of▁sentence｜>", "<｜fim▁begin｜>", "<｜fim▁end｜>", "<｜fim▁hole｜>",  // UTF-8 literals
      "[EOS]", "[EOT]", "[PAD]", "[e~[", "_<EOT>", "▁<MID>", "▁<PRE>", "▁<SUF>"};
  for (const char* m : kMarkers) {
    if (t == m) return true;
  }
  return false;
}

std::string byte_token_text(unsigned b) {
  static const char* hex = "0123456789ABCDEF";
  return std::string{'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
}

}  // namespace

// ---- lookup tables ---------------------------------------------------------------------------

namespace {

inline uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 33;
  return h;
}

inline uint64_t hash_bytes(const char* p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (static_cast<uint64_t>(n) * 0xC2B2AE3D27D4EB4Full);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  for (size_t k = 0; k < n; ++k) w |= static_cast<uint64_t>(static_cast<unsigned char>(p[k])) << (8 * k);
  return mix64(h ^ w);
}

constexpr uint64_t kEmptyPair = ~0ull;

size_t table_capacity(size_t n) {
  size_t cap = 16;
  while (cap < 2 * n) cap *= 2;
  return cap;
}

}  // namespace

void Tokenizer::StringIndex::reserve(size_t n) {
  if (table_capacity(n) > slots_.size()) rehash(table_capacity(n));
}

void Tokenizer::StringIndex::rehash(size_t capacity) {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(capacity, Slot{0, 0, 0, -1});
  const size_t mask = capacity - 1;
  for (const Slot& x : old) {
    if (x.id < 0) continue;
    size_t i = x.hash & mask;
    while (slots_[i].id >= 0) i = (i + 1) & mask;
    slots_[i] = x;
  }
}

void Tokenizer::StringIndex::set(std::string_view key, int32_t id) {
  if (slots_.empty() || 2 * (count_ + 1) > slots_.size()) rehash(table_capacity(count_ + 1));
  const uint64_t h = hash_bytes(key.data(), key.size());
  const size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  while (slots_[i].id >= 0) {
    Slot& x = slots_[i];
    if (x.hash == h && x.len == key.size() && std::memcmp(keys_.data() + x.off, key.data(), key.size()) == 0) {
      x.id = id;
      return;
    }
    i = (i + 1) & mask;
  }
  slots_[i] = Slot{h, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(key.size()), id};
  keys_.append(key.data(), key.size());
  ++count_;
}

int32_t Tokenizer::StringIndex::find(std::string_view key) const {
  if (slots_.empty()) return -1;
  const uint64_t h = hash_bytes(key.data(), key.size());
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& x = slots_[i];
    if (x.id < 0) return -1;
    if (x.hash == h && x.len == key.size() && std::memcmp(keys_.data() + x.off, key.data(), key.size()) == 0) {
      return x.id;
    }
  }
}

void Tokenizer::PairIndex::reserve(size_t n) {
  if (table_capacity(n) > slots_.size()) rehash(table_capacity(n));
}

void Tokenizer::PairIndex::rehash(size_t capacity) {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(capacity, Slot{kEmptyPair, {0, 0}});
  const size_t mask = capacity - 1;
  for (const Slot& x : old) {
    if (x.key == kEmptyPair) continue;
    size_t i = mix64(x.key) & mask;
    while (slots_[i].key != kEmptyPair) i = (i + 1) & mask;
    slots_[i] = x;
  }
}

bool Tokenizer::PairIndex::insert(uint64_t key, MergeInfo m) {
  if (slots_.empty() || 2 * (count_ + 1) > slots_.size()) rehash(table_capacity(count_ + 1));
  const size_t mask = slots_.size() - 1;
  size_t i = mix64(key) & mask;
  while (slots_[i].key != kEmptyPair) {
    if (slots_[i].key == key) return false;
    i = (i + 1) & mask;
  }
  slots_[i] = Slot{key, m};
  ++count_;
  return true;
}

const Tokenizer::MergeInfo* Tokenizer::PairIndex::find(uint64_t key) const {
  if (slots_.empty()) return nullptr;
  const size_t mask = slots_.size() - 1;
  for (size_t i = mix64(key) & mask;; i = (i + 1) & mask) {
    const Slot& x = slots_[i];
    if (x.key == kEmptyPair) return nullptr;
    if (x.key == key) return &x.m;
  }
}

// ---- construction ----------------------------------------------------------------------------

Tokenizer::Tokenizer(TokenizerVocab vocab) : vocab_(std::move(vocab)) {
  const size_t n = vocab_.tokens.size();
  if (vocab_.model != "llama" && vocab_.model != "gpt2") {
    throw Error("tokenizer model '" + vocab_.model + "' is not supported (llama, gpt2)");
  }
  if (n == 0) throw Error("tokenizer vocabulary is empty");
  if (n > static_cast<size_t>(INT32_MAX) / 2) throw Error("tokenizer vocabulary is too large");
  if (!vocab_.scores.empty() && vocab_.scores.size() != n) {
    throw Error("tokenizer has " + std::to_string(vocab_.scores.size()) + " scores for " +
                std::to_string(n) + " tokens");
  }
  if (!vocab_.token_types.empty() && vocab_.token_types.size() != n) {
    throw Error("tokenizer has " + std::to_string(vocab_.token_types.size()) + " token types for " +
                std::to_string(n) + " tokens");
  }
  auto check_id = [&](int32_t id, const char* what) {
    if (id < -1 || id >= static_cast<int64_t>(n)) {
      throw Error(std::string("tokenizer ") + what + " id " + std::to_string(id) + " is out of range [0, " +
                  std::to_string(n) + ")");
    }
  };
  check_id(vocab_.bos_id, "BOS");
  check_id(vocab_.eos_id, "EOS");
  check_id(vocab_.unk_id, "unknown-token");
  check_id(vocab_.pad_id, "padding");
  check_id(vocab_.eot_id, "EOT");
  is_spm_ = vocab_.model == "llama";
  if (!is_spm_) {
    PreType t;
    bool ignore;
    if (!pre_type_from_name(vocab_.pre, t, ignore)) {
      throw Error("tokenizer pre-type '" + vocab_.pre + "' is not supported (" + kSupportedPre + ")");
    }
    pre_type_ = static_cast<int>(t);
    ignore_merges_ = ignore;
  }

  // llama.cpp forces the control attribute onto tokens whose text marks end-of-turn/-generation
  // or fill-in-the-middle; for a user-defined token this means it is no longer split out of
  // plain text (phi-3 declares "</s>" user-defined). Mirror that in this copy of the vocabulary.
  if (!vocab_.token_types.empty()) {
    for (size_t i = 0; i < n; ++i) {
      if (vocab_.token_types[i] == kTypeUserDefined && is_control_marker(vocab_.tokens[i])) {
        vocab_.token_types[i] = kTypeControl;
      }
    }
  }

  token_to_id_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    token_to_id_.set(vocab_.tokens[i], static_cast<int32_t>(i));  // duplicates: the last id wins
    max_token_len_ = std::max(max_token_len_, vocab_.tokens[i].size());
  }

  // User-defined tokens split the text before tokenization (longest first, then by id).
  for (size_t i = 0; i < n; ++i) {
    if (type_of(static_cast<int32_t>(i)) == kTypeUserDefined && !vocab_.tokens[i].empty()) {
      user_defined_.push_back(static_cast<int32_t>(i));
    }
  }
  std::stable_sort(user_defined_.begin(), user_defined_.end(), [&](int32_t a, int32_t b) {
    return vocab_.tokens[a].size() > vocab_.tokens[b].size();
  });
  for (int32_t id : user_defined_) user_defined_first_byte_[static_cast<unsigned char>(vocab_.tokens[id][0])] = true;

  byte_to_token_.assign(256, -1);
  if (is_spm_) {
    for (unsigned b = 0; b < 256; ++b) {
      int32_t id = token_to_id_.find(byte_token_text(b));
      if (id < 0) id = token_to_id_.find(std::string(1, static_cast<char>(b)));
      byte_to_token_[b] = id;
    }
  } else {
    const ByteAlphabet& alpha = byte_alphabet();
    for (unsigned b = 0; b < 256; ++b) byte_to_token_[b] = token_to_id_.find(alpha.byte_to_utf8[b]);
    build_merges();
  }
  build_pieces();
}

int32_t Tokenizer::type_of(int32_t id) const {
  return vocab_.token_types.empty() ? kTypeNormal : vocab_.token_types[static_cast<size_t>(id)];
}

int32_t Tokenizer::symbol_id(const std::string& text, bool create) {
  const int32_t found = token_to_id_.find(text);
  if (found >= 0) return found;
  auto vit = virtual_ids_.find(text);
  if (vit != virtual_ids_.end()) return vit->second;
  if (!create) return -1;
  const int32_t id = static_cast<int32_t>(vocab_.tokens.size() + virtual_ids_.size());
  virtual_ids_.emplace(text, id);
  return id;
}

void Tokenizer::build_merges() {
  // Merges are indexed by the ids of their two halves. A half or a result that is not in the
  // vocabulary gets a "virtual" id past the end, so such merges still apply as in llama.cpp
  // (the final symbol then falls back to its byte tokens).
  merges_.reserve(vocab_.merges.size());
  std::string left, right;
  for (size_t r = 0; r < vocab_.merges.size(); ++r) {
    const std::string& m = vocab_.merges[r];
    const size_t pos = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
    if (pos == std::string::npos) {
      throw Error("tokenizer merge " + std::to_string(r) + " '" + m + "' is not of the form 'left right'");
    }
    left.assign(m, 0, pos);
    right.assign(m, pos + 1, std::string::npos);
    const int32_t a = symbol_id(left, true);
    const int32_t b = symbol_id(right, true);
    const int32_t ab = symbol_id(left + right, true);
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
    merges_.insert(key, MergeInfo{static_cast<int32_t>(r), ab});  // first (lowest) rank wins
  }
  // Initial BPE symbols are single byte-alphabet characters; they may be virtual too.
  const ByteAlphabet& alpha = byte_alphabet();
  byte_symbol_.assign(256, -1);
  for (unsigned b = 0; b < 256; ++b) byte_symbol_[b] = symbol_id(alpha.byte_to_utf8[b], false);
}

void Tokenizer::build_pieces() {
  const size_t n = vocab_.tokens.size();
  pieces_.assign(n, std::string());
  const ByteAlphabet& alpha = byte_alphabet();
  std::vector<CodePoint> cps;
  for (size_t i = 0; i < n; ++i) {
    const std::string& text = vocab_.tokens[i];
    const int32_t type = type_of(static_cast<int32_t>(i));
    std::string& piece = pieces_[i];
    if (type == kTypeControl || type == kTypeUnknown || type == kTypeUnused) continue;
    if (type == kTypeUserDefined) {
      piece = text;
    } else if (type == kTypeByte && text.size() == 6 && text.compare(0, 3, "<0x") == 0 && text[5] == '>') {
      piece.push_back(static_cast<char>(std::stoul(text.substr(3, 2), nullptr, 16)));
    } else if (is_spm_) {
      for (size_t k = 0; k < text.size();) {
        if (text.compare(k, kSpaceMarkerLen, kSpaceMarker) == 0) {
          piece.push_back(' ');
          k += kSpaceMarkerLen;
        } else {
          piece.push_back(text[k++]);
        }
      }
    } else {
      decode_utf8(text, cps);
      for (size_t k = 0; k < cps.size(); ++k) {
        const uint32_t cp = cps[k].cp;
        if (cp < alpha.cp_to_byte.size() && alpha.cp_to_byte[cp] >= 0) {
          piece.push_back(static_cast<char>(alpha.cp_to_byte[cp]));
        } else {  // not a byte-alphabet character: keep its UTF-8 as is
          const uint32_t end = k + 1 < cps.size() ? cps[k + 1].off : static_cast<uint32_t>(text.size());
          piece.append(text, cps[k].off, end - cps[k].off);
        }
      }
    }
  }
}

// ---- encoding --------------------------------------------------------------------------------

std::vector<Tokenizer::Fragment> Tokenizer::partition(std::string_view text) const {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back({0, text.size(), -1});
  if (user_defined_.empty()) return frags;
  bool any = false;
  for (unsigned char c : text) {
    if (user_defined_first_byte_[c]) { any = true; break; }
  }
  if (!any) return frags;
  // As llama.cpp: for each user-defined token, longest first, split every raw fragment at its
  // leftmost non-overlapping occurrences.
  std::vector<Fragment> next;
  for (int32_t id : user_defined_) {
    const std::string& tok = vocab_.tokens[static_cast<size_t>(id)];
    next.clear();
    bool changed = false;
    for (const Fragment& f : frags) {
      if (f.token >= 0 || f.len < tok.size()) { next.push_back(f); continue; }
      const std::string_view raw = text.substr(f.off, f.len);
      size_t base = 0;
      while (true) {
        const size_t m = raw.find(tok, base);
        if (m == std::string_view::npos) break;
        changed = true;
        if (m > base) next.push_back({f.off + base, m - base, -1});
        next.push_back({f.off + m, tok.size(), id});
        base = m + tok.size();
      }
      if (base < raw.size()) next.push_back({f.off + base, raw.size() - base, -1});
    }
    if (changed) frags.swap(next);
  }
  return frags;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && vocab_.add_bos && vocab_.bos_id >= 0) out.push_back(vocab_.bos_id);
  bool prev_special = true;  // SPM: the first fragment gets the space prefix
  for (const Fragment& f : partition(text)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      prev_special = true;
      continue;
    }
    const std::string_view piece = text.substr(f.off, f.len);
    if (is_spm_) {
      encode_spm_fragment(piece, vocab_.add_space_prefix && prev_special, out);
    } else {
      encode_bpe_fragment(piece, out);
    }
    prev_special = false;
  }
  if (add_special && vocab_.add_eos && vocab_.eos_id >= 0) out.push_back(vocab_.eos_id);
  return out;
}

std::vector<int32_t> Tokenizer::encode_spm(std::string_view text) const {
  std::vector<int32_t> out;
  encode_spm_fragment(text, vocab_.add_space_prefix, out);
  return out;
}

std::vector<int32_t> Tokenizer::encode_bpe(std::string_view text) const {
  std::vector<int32_t> out;
  encode_bpe_fragment(text, out);
  return out;
}

void Tokenizer::encode_spm_fragment(std::string_view raw, bool prefix_space, std::vector<int32_t>& out) const {
  // Escape: optional leading U+2581, every ' ' -> U+2581.
  std::string s;
  s.reserve(raw.size() + raw.size() / 2 + kSpaceMarkerLen);
  if (prefix_space) s.append(kSpaceMarker, kSpaceMarkerLen);
  for (char c : raw) {
    if (c == ' ') s.append(kSpaceMarker, kSpaceMarkerLen);
    else s.push_back(c);
  }
  if (s.empty()) return;

  std::vector<Symbol> sym;
  sym.reserve(s.size());
  for (size_t off = 0; off < s.size();) {
    const size_t len = std::min(utf8_len(static_cast<unsigned char>(s[off])), s.size() - off);
    const int32_t idx = static_cast<int32_t>(sym.size());
    sym.push_back({idx - 1, off + len < s.size() ? idx + 1 : -1, static_cast<uint32_t>(off),
                   static_cast<uint32_t>(len), -1});
    off += len;
  }

  std::priority_queue<SpmBigram> queue;
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const size_t size = sym[left].n + sym[right].n;
    if (size > max_token_len_) return;
    const int32_t id = token_to_id_.find(std::string_view(s).substr(sym[left].start, size));
    if (id < 0) return;
    const float score = vocab_.scores.empty() ? 0.0f : vocab_.scores[static_cast<size_t>(id)];
    queue.push({score, left, right, static_cast<uint32_t>(size), id});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(sym.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const SpmBigram bg = queue.top();
    queue.pop();
    Symbol& l = sym[bg.left];
    Symbol& r = sym[bg.right];
    if (l.n == 0 || r.n == 0 || l.n + r.n != bg.size) continue;  // stale
    l.n += r.n;
    l.id = bg.id;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = bg.left;
    try_add(l.prev, bg.left);
    try_add(bg.left, l.next);
  }

  for (int32_t i = 0; i != -1; i = sym[i].next) {
    const Symbol& x = sym[i];
    int32_t id = x.id;
    if (id < 0) id = token_to_id_.find(std::string_view(s).substr(x.start, x.n));  // unmerged character
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    for (uint32_t k = 0; k < x.n; ++k) {  // byte fallback
      const int32_t b = byte_to_token_[static_cast<unsigned char>(s[x.start + k])];
      if (b >= 0) out.push_back(b);
      else if (vocab_.unk_id >= 0) out.push_back(vocab_.unk_id);
    }
  }
}

void Tokenizer::encode_bpe_fragment(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<CodePoint> cps;
  decode_utf8(text, cps);
  Words words;
  pretokenize(static_cast<PreType>(pre_type_), cps, words);
  const ByteAlphabet& alpha = byte_alphabet();
  const int32_t n_vocab = static_cast<int32_t>(vocab_.tokens.size());

  std::vector<Symbol> sym;
  std::vector<BpeBigram> heap;
  std::string encoded;
  for (const auto& w : words) {
    const uint32_t b = cps[w.first].off;
    const uint32_t e = w.second < cps.size() ? cps[w.second].off : static_cast<uint32_t>(text.size());
    if (ignore_merges_) {
      encoded.clear();
      for (uint32_t k = b; k < e; ++k) encoded += alpha.byte_to_utf8[static_cast<unsigned char>(text[k])];
      const int32_t id = token_to_id_.find(encoded);
      if (id >= 0) {
        out.push_back(id);
        continue;
      }
    }
    sym.clear();
    for (uint32_t k = b; k < e; ++k) {
      const int32_t idx = static_cast<int32_t>(sym.size());
      sym.push_back({idx - 1, k + 1 < e ? idx + 1 : -1, k, 1, byte_symbol_[static_cast<unsigned char>(text[k])]});
    }
    heap.clear();
    auto try_add = [&](int32_t left, int32_t right) {
      if (left < 0 || right < 0) return;
      const int32_t a = sym[left].id, c = sym[right].id;
      if (a < 0 || c < 0) return;
      const MergeInfo* m = merges_.find((static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(c));
      if (m == nullptr) return;
      heap.push_back({m->rank, left, right, a, c, m->result});
      std::push_heap(heap.begin(), heap.end());
    };
    for (int32_t i = 1; i < static_cast<int32_t>(sym.size()); ++i) try_add(i - 1, i);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end());
      const BpeBigram bg = heap.back();
      heap.pop_back();
      Symbol& l = sym[bg.left];
      Symbol& r = sym[bg.right];
      if (l.n == 0 || r.n == 0 || l.id != bg.left_id || r.id != bg.right_id) continue;  // stale
      l.n += r.n;
      l.id = bg.result_id;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) sym[r.next].prev = bg.left;
      try_add(l.prev, bg.left);
      try_add(bg.left, l.next);
    }
    for (int32_t i = sym.empty() ? -1 : 0; i != -1; i = sym[i].next) {
      const Symbol& x = sym[i];
      if (x.id >= 0 && x.id < n_vocab) {
        out.push_back(x.id);
        continue;
      }
      for (uint32_t k = 0; k < x.n; ++k) {  // not a token: emit its bytes' tokens
        const int32_t t = byte_to_token_[static_cast<unsigned char>(text[x.start + k])];
        if (t >= 0) out.push_back(t);
      }
    }
  }
}

// ---- decoding --------------------------------------------------------------------------------

std::string Tokenizer::token_to_piece(int32_t id) const {
  if (id < 0 || id >= n_vocab()) {
    throw Error("token id " + std::to_string(id) + " is out of range [0, " + std::to_string(n_vocab()) + ")");
  }
  return pieces_[static_cast<size_t>(id)];
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const { return decode_pieces(ids, true); }

std::string Tokenizer::decode_continuation(const std::vector<int32_t>& ids) const { return decode_pieces(ids, false); }

std::string Tokenizer::decode_pieces(const std::vector<int32_t>& ids, bool text_start) const {
  std::string out;
  bool strip_space = text_start && is_spm_ && vocab_.add_space_prefix;
  for (int32_t id : ids) {
    if (id < 0 || id >= n_vocab()) {
      throw Error("token id " + std::to_string(id) + " is out of range [0, " + std::to_string(n_vocab()) + ")");
    }
    const std::string& piece = pieces_[static_cast<size_t>(id)];
    if (piece.empty()) continue;
    // SPM: drop the space the encoder prepended (first text token only).
    if (strip_space && type_of(id) == kTypeNormal && piece[0] == ' ') out.append(piece, 1, std::string::npos);
    else out += piece;
    strip_space = false;
  }
  return out;
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
  return id >= 0 && (id == vocab_.eos_id || id == vocab_.eot_id);
}

// ---- GGUF metadata ---------------------------------------------------------------------------

TokenizerVocab read_tokenizer_vocab(const GgufFile& f) {
  const std::string& path = f.path();
  TokenizerVocab v;
  v.model = f.get_string("tokenizer.ggml.model");
  if (v.model != "llama" && v.model != "gpt2") {
    throw Error(path + ": tokenizer model '" + v.model + "' is not supported (llama, gpt2)");
  }
  const bool spm = v.model == "llama";
  v.pre = f.get_string_or("tokenizer.ggml.pre", "default");
  PreType pre_type = PreType::Gpt2;
  bool ignore_merges = false;
  if (!spm && !pre_type_from_name(v.pre, pre_type, ignore_merges)) {
    throw Error(path + ": tokenizer.ggml.pre '" + v.pre + "' is not supported (" + kSupportedPre + ")");
  }
  v.tokens = f.get_string_array("tokenizer.ggml.tokens");
  const size_t n = v.tokens.size();
  if (n == 0) throw Error(path + ": tokenizer.ggml.tokens is empty");
  if (n > static_cast<size_t>(INT32_MAX) / 2) throw Error(path + ": tokenizer.ggml.tokens is too large");
  for (size_t i = 0; i < n; ++i) {
    if (v.tokens[i].empty()) v.tokens[i] = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp
  }

  auto check_len = [&](const char* key, size_t len) {
    if (len != n) {
      throw Error(path + ": " + key + " has " + std::to_string(len) + " entries but tokenizer.ggml.tokens has " +
                  std::to_string(n));
    }
  };
  if (f.has("tokenizer.ggml.scores")) {
    const GgufValue& sv = f.value("tokenizer.ggml.scores");
    if (sv.type == GgufValueType::ARRAY && (sv.array_type == GgufValueType::INT32)) {
      const auto& a = f.get_int_array("tokenizer.ggml.scores");
      check_len("tokenizer.ggml.scores", a.size());
      v.scores.assign(a.begin(), a.end());
    } else {
      const auto& a = f.get_float_array("tokenizer.ggml.scores");
      check_len("tokenizer.ggml.scores", a.size());
      v.scores.reserve(n);
      for (double x : a) v.scores.push_back(static_cast<float>(x));
    }
  }
  if (f.has("tokenizer.ggml.token_type")) {
    const auto& a = f.get_int_array("tokenizer.ggml.token_type");
    check_len("tokenizer.ggml.token_type", a.size());
    v.token_types.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      if (a[i] < 0 || a[i] > kTypeByte) {
        throw Error(path + ": tokenizer.ggml.token_type[" + std::to_string(i) + "] = " + std::to_string(a[i]) +
                    " is not a token type (0..6)");
      }
      v.token_types.push_back(static_cast<int32_t>(a[i]));
    }
  }
  if (!spm) {
    if (!f.has("tokenizer.ggml.merges")) {
      throw Error(path + ": metadata key 'tokenizer.ggml.merges' is missing (required for gpt2 tokenizers)");
    }
    v.merges = f.get_string_array("tokenizer.ggml.merges");
    for (size_t r = 0; r < v.merges.size(); ++r) {
      const std::string& m = v.merges[r];
      if (m.size() < 3 || m.find(' ', 1) == std::string::npos || m.find(' ', 1) + 1 >= m.size()) {
        throw Error(path + ": tokenizer.ggml.merges[" + std::to_string(r) + "] '" + m +
                    "' is not of the form 'left right'");
      }
    }
  }

  // Special token ids. SentencePiece vocabularies default to llama's <unk>=0, <s>=1, </s>=2.
  if (spm) {
    v.unk_id = n > 0 ? 0 : -1;
    v.bos_id = n > 1 ? 1 : -1;
    v.eos_id = n > 2 ? 2 : -1;
  }
  auto read_id = [&](const char* key, int32_t& id) {
    if (!f.has(key)) return;
    const uint64_t x = f.get_uint(key);
    if (x >= n) {
      throw Error(path + ": " + key + " = " + std::to_string(x) + " is out of range (vocabulary of " +
                  std::to_string(n) + " tokens)");
    }
    id = static_cast<int32_t>(x);
  };
  read_id("tokenizer.ggml.bos_token_id", v.bos_id);
  read_id("tokenizer.ggml.eos_token_id", v.eos_id);
  read_id("tokenizer.ggml.unknown_token_id", v.unk_id);
  read_id("tokenizer.ggml.padding_token_id", v.pad_id);
  read_id("tokenizer.ggml.eot_token_id", v.eot_id);
  if (v.eot_id < 0) {
    // As llama.cpp: recognise the usual end-of-turn tokens of chat models by their text.
    static const char* const eot_texts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>"};
    for (const char* t : eot_texts) {
      for (size_t i = 0; i < n && v.eot_id < 0; ++i) {
        const int32_t type = v.token_types.empty() ? kTypeNormal : v.token_types[i];
        if ((type == kTypeControl || type == kTypeUserDefined) && v.tokens[i] == t) v.eot_id = static_cast<int32_t>(i);
      }
      if (v.eot_id >= 0) break;
    }
  }

  v.add_bos = spm || (pre_type == PreType::Llama3 && ignore_merges);  // llama.cpp: Llama-3 adds BOS
  v.add_eos = false;
  v.add_space_prefix = spm;
  if (f.has("tokenizer.ggml.add_bos_token")) v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token");
  if (f.has("tokenizer.ggml.add_eos_token")) v.add_eos = f.get_bool("tokenizer.ggml.add_eos_token");
  if (f.has("tokenizer.ggml.add_space_prefix")) v.add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix");
  if (v.add_bos && v.bos_id < 0) {
    throw Error(path + ": tokenizer.ggml.add_bos_token is set but there is no tokenizer.ggml.bos_token_id");
  }
  if (v.add_eos && v.eos_id < 0) {
    throw Error(path + ": tokenizer.ggml.add_eos_token is set but there is no tokenizer.ggml.eos_token_id");
  }
  return v;
}

}  // namespace sci_infer
