// make_synthetic_spm_vocab: a deterministic SentencePiece-style vocabulary for test models.
//
// Layout (ids):
//   0 <unk> (type 2), 1 <s>, 2 </s> (type 3), 3..258 <0x00>..<0xFF> (type 6), then normal
//   pieces (type 1) in this order until n_vocab is reached:
//   "▁", the printable ASCII characters '!'..'~', "▁"+letter (a-z, A-Z), then for k = 2, 3, ...
//   every k-letter lowercase string in lexicographic order, each as "▁"+s followed by s.
// Scores: a piece of c characters ("▁" counts as one) scores c, so the SPM merge prefers longer
// pieces; special and byte tokens score 0 (they are never formed by merges). Every piece
// reachable by a merge of two shorter pieces exists, and all other text falls back to bytes,
// so any UTF-8 string round-trips through encode/decode.
#include <string>

#include "sci_infer/error.hpp"
#include "sci_infer/tokenizer.hpp"

namespace sci_infer {

TokenizerVocab make_synthetic_spm_vocab(uint32_t n_vocab) {
  if (n_vocab < 300) {
    throw Error("make_synthetic_spm_vocab: n_vocab " + std::to_string(n_vocab) + " is below the minimum of 300");
  }
  if (n_vocab > (1u << 30)) {
    throw Error("make_synthetic_spm_vocab: n_vocab " + std::to_string(n_vocab) + " is too large");
  }
  static const std::string kMarker = "\xE2\x96\x81";  // U+2581
  TokenizerVocab v;
  v.model = "llama";
  v.pre = "default";
  v.bos_id = 1;
  v.eos_id = 2;
  v.unk_id = 0;
  v.add_bos = true;
  v.add_eos = false;
  v.add_space_prefix = true;
  v.tokens.reserve(n_vocab);
  v.scores.reserve(n_vocab);
  v.token_types.reserve(n_vocab);

  auto add = [&](std::string piece, float score, int32_t type) {
    v.tokens.push_back(std::move(piece));
    v.scores.push_back(score);
    v.token_types.push_back(type);
  };
  auto full = [&] { return v.tokens.size() >= n_vocab; };
  // Normal piece; score = number of characters.
  auto add_piece = [&](const std::string& letters, bool marker) {
    if (full()) return;
    add(marker ? kMarker + letters : letters, static_cast<float>(letters.size() + (marker ? 1 : 0)), 1);
  };

  add("<unk>", 0.0f, 2);
  add("<s>", 0.0f, 3);
  add("</s>", 0.0f, 3);
  static const char* hex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) add(std::string{'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'}, 0.0f, 6);

  add_piece("", true);  // "▁"
  for (char c = '!'; c <= '~'; ++c) add_piece(std::string(1, c), false);
  for (char c = 'a'; c <= 'z'; ++c) add_piece(std::string(1, c), true);
  for (char c = 'A'; c <= 'Z'; ++c) add_piece(std::string(1, c), true);
  for (size_t k = 2; !full(); ++k) {
    std::string s(k, 'a');
    while (!full()) {
      add_piece(s, true);
      add_piece(s, false);
      // next k-letter string in lexicographic order
      size_t i = k;
      while (i > 0 && s[i - 1] == 'z') s[--i] = 'a';
      if (i == 0) break;
      ++s[i - 1];
    }
  }
  return v;
}

}  // namespace sci_infer
