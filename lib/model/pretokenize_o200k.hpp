#pragma once
// The o200k ("gpt-4o", gpt-oss) pre-tokenizer as llama.cpp runs it (LLAMA_VOCAB_PRE_TYPE_GPT4O):
//
//   [^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?
//  |[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*(?:'[sS]|...same...)?
//  |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// llama.cpp's rewrite of tiktoken's pattern: "upper" is a letter that is not ASCII a-z, "lower" a
// letter that is not ASCII A-Z, so a non-ASCII letter is both (its case is not looked at), and
// combining marks are not letters. This scanner gives the words a leftmost-first backtracking
// regex engine gives for that pattern; for a letter run [j, r) after the optional prefix:
//   * it has an ASCII lowercase letter: the word runs to the first ASCII uppercase after the
//     first ASCII lowercase (first alternative, greedy "upper*" then "lower+");
//   * else it has a non-ASCII letter: the word ends just after the last one (the first
//     alternative after backtracking "upper*");
//   * else (ASCII uppercase only): the whole run (second alternative).
// then an optional contraction. Header-only so that the unit test can drive it directly.
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "model/unicode_tables.hpp"

namespace sci_infer::pretok {

// cp(i): code point i; cls(i): its unicode::CharClass. Appends [begin, end) words of [b, e).
template <class CpAt, class ClassAt>
void split_o200k(size_t b, size_t e, const CpAt& cp, const ClassAt& cls,
                 std::vector<std::pair<uint32_t, uint32_t>>& words) {
  using unicode::CharClass;
  auto letter = [&](size_t k) { return cls(k) == CharClass::Letter; };
  auto ascii_lower = [&](size_t k) { return cp(k) >= 'a' && cp(k) <= 'z'; };
  auto ascii_upper = [&](size_t k) { return cp(k) >= 'A' && cp(k) <= 'Z'; };
  auto cr_lf = [&](size_t k) { return cp(k) == '\r' || cp(k) == '\n'; };
  auto contraction = [&](size_t k) -> size_t {  // '[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]
    if (k + 1 >= e || cp(k) != '\'') return 0;
    auto low = [&](size_t q) { return (cp(q) >= 'A' && cp(q) <= 'Z') ? cp(q) + 32 : cp(q); };
    const uint32_t c1 = low(k + 1);
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
    if (k + 2 < e) {
      const uint32_t c2 = low(k + 2);
      if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
    }
    return 0;
  };
  size_t i = b;
  while (i < e) {
    size_t end = i;
    const CharClass c = cls(i);
    // Alternatives 1 and 2: [^\r\n\p{L}\p{N}]? then a letter run.
    size_t j = i;
    if (!letter(i) && c != CharClass::Number && !cr_lf(i) && i + 1 < e && letter(i + 1)) j = i + 1;
    if (letter(j)) {
      size_t r = j;
      while (r < e && letter(r)) ++r;
      size_t a = j;
      while (a < r && !ascii_lower(a)) ++a;
      if (a < r) {  // upper* up to the first ASCII lowercase, then lower+ up to an ASCII uppercase
        end = a;
        while (end < r && !ascii_upper(end)) ++end;
      } else {
        size_t p = r;
        while (p > j && ascii_upper(p - 1)) --p;
        end = p > j ? p : r;  // just after the last non-ASCII letter, or the all-uppercase run
      }
      end += contraction(end);
    } else if (c == CharClass::Number) {  // \p{N}{1,3}
      while (end < e && end - i < 3 && cls(end) == CharClass::Number) ++end;
    } else {
      const size_t q = (cp(i) == ' ' && i + 1 < e) ? i + 1 : i;
      if (cls(q) == CharClass::Other) {  // ' '?[^\s\p{L}\p{N}]+[\r\n/]*
        end = q;
        while (end < e && cls(end) == CharClass::Other) ++end;
        while (end < e && (cr_lf(end) || cp(end) == '/')) ++end;
      } else {  // c == Space
        size_t k = i, last_crlf = 0;
        while (k < e && cls(k) == CharClass::Space) {
          if (cr_lf(k)) last_crlf = k + 1;
          ++k;
        }
        if (last_crlf > 0) end = last_crlf;             // \s*[\r\n]+
        else end = (k < e && k - i > 1) ? k - 1 : k;    // \s+(?!\S) | \s+
      }
    }
    words.emplace_back(static_cast<uint32_t>(i), static_cast<uint32_t>(end));
    i = end;
  }
}

}  // namespace sci_infer::pretok
