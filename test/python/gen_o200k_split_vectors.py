#!/usr/bin/env python3
"""Writes test/data/o200k_split_vectors.json: texts and the words that llama.cpp's o200k
("gpt-4o") pre-tokenizer pattern splits them into, by the Python `regex` module (an independent,
backtracking, leftmost-first engine with \\p{..} classes). The pattern is copied verbatim from
llama.cpp src/llama-vocab.cpp (LLAMA_VOCAB_PRE_TYPE_GPT4O).

Texts: llama.cpp's tokenizer test inputs (models/ggml-vocab-*.gguf.inp, when present) plus cases
aimed at this pattern (case changes inside words, non-ASCII letters, contractions, digit groups,
CR/LF runs). Characters whose \\s membership differs between `regex` and llama.cpp's std::regex
(U+001C..U+001F, U+0085) are left out.

Usage: gen_o200k_split_vectors.py [llama.cpp dir] > test/data/o200k_split_vectors.json
"""
import glob
import json
import os
import sys

import regex

PATTERN = (
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?"
    "|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
)

OWN = [
    "HelloWorld", "helloWORLD", "HTTPServer error", "ÉCOLE normale", "éAé", "Aé", "éA b", "ПриветМир", "МИР мир",
    "don't DON'T I'M you'Re they'LL", "x's", "'s alone", "12345678 1 22 333 4444", "3.14159e10",
    "a\r\n\r\n  b", "  \n\n\t x", "end   ", "tabs\t\tand  spaces   here", " !!!\n/ ok", "path/to/file\n/x",
    "naïve café résumé", "e\u0301te\u0301", "日本語のテキスト", "🦙🦙 emoji 👍🏽!", "mixedČeskýText", "ǅungla Ǆ",
    "(parens) [brackets] {braces}", "snake_case and camelCaseWordsHere", "A1B2c3", "\u00a0nbsp\u3000ideo",
]


def words(text):
    out, pos = [], 0
    for m in regex.finditer(PATTERN, text):
        if m.start() != pos:  # llama.cpp keeps unmatched text as a word of its own
            out.append(text[pos:m.start()])
        if m.end() > m.start():
            out.append(m.group(0))
        pos = m.end()
    if pos != len(text):
        out.append(text[pos:])
    assert "".join(out) == text
    return out


def main():
    peer = sys.argv[1] if len(sys.argv) > 1 else "/tmp/peer/llama.cpp"
    texts = list(OWN)
    for inp in sorted(glob.glob(os.path.join(peer, "models", "ggml-vocab-*.gguf.inp"))):
        with open(inp, encoding="utf-8") as f:
            for t in f.read().split("\n__ggml_vocab_test__\n"):
                if t and t not in texts and not any(c in t for c in "\x1c\x1d\x1e\x1f\x85"):
                    texts.append(t)
    json.dump([{"text": t, "words": words(t)} for t in texts], sys.stdout, ensure_ascii=False, indent=0)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
