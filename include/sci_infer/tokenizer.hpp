#pragma once
// Tokenizers read from GGUF metadata (tokenizer.ggml.*):
//   "llama": SentencePiece-style (scores, byte fallback <0xXX>, "▁" for spaces)
//   "gpt2" : byte-level BPE with merges and a pre-tokenizer regex (GPT-2 or Llama-3 style,
//            chosen by tokenizer.ggml.pre)
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sci_infer {

class GgufFile;

struct TokenizerVocab {
  std::string model;               // "llama" or "gpt2"
  std::string pre = "default";     // tokenizer.ggml.pre
  std::vector<std::string> tokens;
  std::vector<float> scores;       // may be empty for gpt2
  std::vector<int32_t> token_types;// 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
  std::vector<std::string> merges; // "a b" pairs, gpt2 only
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1, eot_id = -1;
  bool add_bos = true;
  bool add_eos = false;
  bool add_space_prefix = true;    // llama: prepend "▁" to the text
};

// Reads tokenizer.ggml.* keys; throws sci_infer::Error naming the file and key if absent/invalid.
TokenizerVocab read_tokenizer_vocab(const GgufFile& f);

// A deterministic SentencePiece-style vocabulary of exactly n_vocab >= 300 tokens for test models:
// <unk>, <s>, </s>, the 256 byte tokens <0x00>..<0xFF>, then printable pieces with and without
// the "▁" word prefix, scored so that longer pieces win. Any UTF-8 text round-trips.
TokenizerVocab make_synthetic_spm_vocab(uint32_t n_vocab);

class Tokenizer {
 public:
  explicit Tokenizer(TokenizerVocab vocab);
  // add_special: prepend BOS (and append EOS) when the vocabulary asks for it.
  std::vector<int32_t> encode(std::string_view text, bool add_special) const;
  // Skips control, unknown and unused tokens; for SentencePiece vocabularies with
  // add_space_prefix, drops the one space the encoder prepended. Lossless otherwise
  // (decode(encode(text, true)) == text). Ids out of range throw sci_infer::Error.
  std::string decode(const std::vector<int32_t>& ids) const;
  // The text of tokens that continue earlier text (generated tokens after a prompt): like decode,
  // but the first token's leading space is a real space, not the encoder's prefix, and is kept,
  // so prompt + decode_continuation(generated) reads as the whole text.
  std::string decode_continuation(const std::vector<int32_t>& ids) const;
  std::string token_to_piece(int32_t id) const;               // decoded bytes of one token
  int32_t n_vocab() const { return static_cast<int32_t>(vocab_.tokens.size()); }
  int32_t bos() const { return vocab_.bos_id; }
  int32_t eos() const { return vocab_.eos_id; }
  // eos / eot (read_tokenizer_vocab fills eot_id from tokenizer.ggml.eot_token_id, or else
  // from a control token named <|eot_id|>, <|im_end|>, <|end|>, <end_of_turn> or <|endoftext|>).
  bool is_end_of_generation(int32_t id) const;
  const TokenizerVocab& vocab() const { return vocab_; }

 private:
  // ---- implementation details (lib/model/tokenizer.cpp) ----
  // text_start: the ids begin a text, so SPM's prepended space is dropped (decode).
  std::string decode_pieces(const std::vector<int32_t>& ids, bool text_start) const;
  // Open-addressing string -> id table for the hot lookups (no std::string temporaries). Keys
  // are stored in one buffer by offset, so copies of a Tokenizer stay self-contained.
  class StringIndex {
   public:
    void reserve(size_t n);
    void set(std::string_view key, int32_t id);  // inserts or overwrites
    int32_t find(std::string_view key) const;    // -1 when absent
   private:
    struct Slot {
      uint64_t hash;
      uint32_t off, len;
      int32_t id;  // -1: empty slot
    };
    std::string keys_;
    std::vector<Slot> slots_;
    size_t count_ = 0;
    void rehash(size_t capacity);
  };
  struct MergeInfo {
    int32_t rank;
    int32_t result;        // id of the merged symbol (may be virtual, >= n_vocab)
  };
  // Open-addressing (left id << 32 | right id) -> merge table, gpt2.
  class PairIndex {
   public:
    void reserve(size_t n);
    bool insert(uint64_t key, MergeInfo m);    // keeps an existing entry (lowest rank)
    const MergeInfo* find(uint64_t key) const;
   private:
    struct Slot {
      uint64_t key;        // kEmpty when unused
      MergeInfo m;
    };
    std::vector<Slot> slots_;
    size_t count_ = 0;
    void rehash(size_t capacity);
  };
  struct Fragment {        // a run of raw text, or a user-defined token found in the text
    size_t off, len;
    int32_t token;         // -1 for raw text
  };

  TokenizerVocab vocab_;
  StringIndex token_to_id_;
  std::vector<int32_t> byte_to_token_;                    // llama byte fallback
  std::vector<int32_t> encode_spm(std::string_view text) const;
  std::vector<int32_t> encode_bpe(std::string_view text) const;

  bool is_spm_ = true;
  int pre_type_ = 0;       // BPE pre-tokenizer (internal enum)
  bool ignore_merges_ = false;
  size_t max_token_len_ = 0;
  std::vector<int32_t> user_defined_;           // type-4 ids, longest text first
  std::array<bool, 256> user_defined_first_byte_{};
  PairIndex merges_;                            // byte-level BPE merges by symbol ids
  std::unordered_map<std::string, int32_t> virtual_ids_;  // merge parts that are not tokens
  std::vector<int32_t> byte_symbol_;            // BPE: byte -> id of its byte-alphabet character
  std::vector<std::string> pieces_;             // decoded bytes of each token ("" if skipped)
  int32_t type_of(int32_t id) const;
  int32_t symbol_id(const std::string& text, bool create);
  void build_merges();
  void build_pieces();
  std::vector<Fragment> partition(std::string_view text) const;
  void encode_spm_fragment(std::string_view text, bool prefix_space, std::vector<int32_t>& out) const;
  void encode_bpe_fragment(std::string_view text, std::vector<int32_t>& out) const;
};

}  // namespace sci_infer
