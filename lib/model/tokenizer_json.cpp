// tokenizer.json (Hugging Face tokenizers) -> tokenizer.ggml.* metadata, so that the existing
// BPE (gpt2) and SentencePiece (llama) engines in tokenizer.cpp run it unchanged. Two families:
//  - byte-level BPE (Llama 3, Qwen 2/3, GPT-2): pre_tokenizer ByteLevel, optionally after a
//    Split whose regex names the GGUF pre-tokenizer (llama-bpe, qwen2) -> model "gpt2";
//  - SentencePiece-style BPE with byte_fallback (Llama 2, Mistral, Gemma): normalizer
//    Replace(" ", "▁") [+ Prepend("▁")] or a Metaspace pre-tokenizer -> model "llama", with
//    scores from the merge ranks (the SPM engine merges the highest-scoring pair: the pair of the
//    lowest merge rank, as HF's BPE does; HF's SentencePiece conversion orders merges by score).
// Anything else is refused with the component's name.
#include "model/hf_checkpoint.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

namespace sci_infer {
namespace {

using nlohmann::json;

const char* const kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// The Split regexes of the byte-level pre-tokenizers tokenizer.cpp implements.
const std::pair<const char*, const char*> kSplitRegex[] = {
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     "llama-bpe"},
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     "qwen2"},
    // o200k (gpt-oss; llama-vocab.cpp's LLAMA_VOCAB_PRE_TYPE_GPT4O "original regex from tokenizer.json")
    {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
     "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
     "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     "gpt-4o"},
};

std::vector<json> flatten(const json& j) {  // a component or a Sequence of them
  std::vector<json> out;
  if (j.is_null()) return out;
  if (j.value("type", std::string()) == "Sequence") {
    const char* list = j.contains("normalizers") ? "normalizers" : j.contains("pretokenizers") ? "pretokenizers" : "processors";
    if (j.contains(list) && j[list].is_array())
      for (const json& c : j[list]) {
        auto sub = flatten(c);
        out.insert(out.end(), sub.begin(), sub.end());
      }
    return out;
  }
  out.push_back(j);
  return out;
}

std::string token_text(const json& v) {  // "<s>" or {"content": "<s>", ...} in tokenizer_config.json
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return "";
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

}  // namespace

uint64_t hf_tokenizer_id_count(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "tokenizer.json").string();
  if (!exists(path)) return 0;  // add_hf_tokenizer_metadata names the problem
  const json tj = read_json_file(path);
  uint64_t n = 0;
  auto see = [&](const json& id) {
    if (id.is_number_unsigned()) n = std::max<uint64_t>(n, id.get<uint64_t>() + 1);
  };
  if (tj.contains("model") && tj["model"].is_object() && tj["model"].contains("vocab") && tj["model"]["vocab"].is_object())
    for (const auto& e : tj["model"]["vocab"].items()) see(e.value());
  if (tj.contains("added_tokens") && tj["added_tokens"].is_array())
    for (const json& t : tj["added_tokens"])
      if (t.is_object() && t.contains("id")) see(t["id"]);
  return n;
}

void add_hf_tokenizer_metadata(const std::string& dir, const json& config, uint64_t n_vocab, GgufMetadata& md) {
  namespace fs = std::filesystem;
  const std::string path = (fs::path(dir) / "tokenizer.json").string();
  if (!exists(path)) {
    throw Error(dir + ": tokenizer.json is missing" +
                std::string(exists((fs::path(dir) / "tokenizer.model").string())
                                ? " (only tokenizer.model is present: SentencePiece model files are not read; a "
                                  "checkpoint directory needs the Hugging Face tokenizer.json)"
                                : ""));
  }
  const json tj = read_json_file(path);
  const json tc_file = exists((fs::path(dir) / "tokenizer_config.json").string())
                           ? read_json_file((fs::path(dir) / "tokenizer_config.json").string())
                           : json::object();
  const json& model = tj.contains("model") ? tj["model"] : json();
  if (!model.is_object()) throw Error(path + ": 'model' missing or not an object");
  const std::string type = model.value("type", std::string(model.contains("merges") ? "BPE" : ""));
  if (type != "BPE")
    throw Error(path + ": tokenizer model type '" + type + "' is not supported (BPE only; WordPiece and Unigram are not)");
  if (!model.contains("vocab") || !model["vocab"].is_object()) throw Error(path + ": model.vocab missing or not an object");

  // ---- tokens by id: the vocabulary, the added tokens, [PADn] for ids neither names ----
  std::vector<std::string> tokens(n_vocab);
  std::vector<bool> named(n_vocab, false);
  auto put = [&](const std::string& text, const json& idv, const char* where) {
    if (!idv.is_number_integer() || idv.get<int64_t>() < 0 || idv.get<uint64_t>() >= n_vocab)
      throw Error(path + ": " + where + " token '" + text + "' has id " + idv.dump() + ", outside the model's " +
                  std::to_string(n_vocab) + " embedding rows");
    const uint64_t id = idv.get<uint64_t>();
    tokens[id] = text;
    named[id] = true;
    return id;
  };
  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) put(it.key(), it.value(), "model.vocab");
  std::vector<int64_t> types(n_vocab, 1);  // normal
  std::set<uint64_t> special;
  if (tj.contains("added_tokens") && tj["added_tokens"].is_array())
    for (const json& t : tj["added_tokens"]) {
      if (!t.is_object() || !t.contains("content") || !t["content"].is_string() || !t.contains("id"))
        throw Error(path + ": an added_tokens entry lacks content or id");
      const uint64_t id = put(t["content"].get<std::string>(), t["id"], "added_tokens");
      const bool is_special = t.value("special", false);
      types[id] = is_special ? 3 : 4;  // control : user-defined
      if (is_special) special.insert(id);
    }
  for (uint64_t i = 0; i < n_vocab; ++i)
    if (!named[i]) {
      tokens[i] = "[PAD" + std::to_string(i) + "]";
      types[i] = 5;  // unused
    }

  // ---- merges: "a b" strings, or [a, b] pairs in newer files ----
  std::vector<std::string> merges;
  if (model.contains("merges") && model["merges"].is_array())
    for (const json& m : model["merges"]) {
      if (m.is_string()) merges.push_back(m.get<std::string>());
      else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
        merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
      else throw Error(path + ": model.merges entry " + m.dump() + " is neither \"a b\" nor [a, b]");
    }

  // ---- which family ----
  bool byte_level = false, metaspace = false, prepend = false, replace_space = false;
  std::string pre = "default";
  for (const json& n : flatten(tj.contains("normalizer") ? tj["normalizer"] : json())) {
    const std::string t = n.value("type", std::string());
    if (t == "Prepend" && n.value("prepend", std::string()) == kSpace) prepend = true;
    else if (t == "Replace" && n.contains("pattern") && n["pattern"].value("String", std::string()) == " " &&
             n.value("content", std::string()) == kSpace) replace_space = true;
    else if (t == "NFC") {}  // as llama.cpp, which does not normalize either (Qwen 2 names NFC)
    else throw Error(path + ": normalizer '" + (t.empty() ? n.dump() : t) + "' is not supported (Prepend/Replace of \"▁\", NFC)");
  }
  for (const json& p : flatten(tj.contains("pre_tokenizer") ? tj["pre_tokenizer"] : json())) {
    const std::string t = p.value("type", std::string());
    if (t == "ByteLevel") {
      byte_level = true;
      if (p.value("add_prefix_space", false)) throw Error(path + ": pre_tokenizer ByteLevel with add_prefix_space is not supported");
    } else if (t == "Metaspace") {
      metaspace = true;
      const std::string scheme = p.value("prepend_scheme", std::string(p.value("add_prefix_space", true) ? "always" : "never"));
      prepend = scheme != "never";
    } else if (t == "Split") {
      const std::string re = p.contains("pattern") ? p["pattern"].value("Regex", std::string()) : "";
      bool known = false;
      for (const auto& k : kSplitRegex)
        if (re == k.first) { pre = k.second; known = true; }
      if (!known) throw Error(path + ": pre_tokenizer Split regex '" + re + "' is not supported (those of Llama 3 and Qwen 2)");
    } else if (t == "Digits" && !p.value("individual_digits", false)) {
      throw Error(path + ": pre_tokenizer Digits without individual_digits is not supported");
    } else {
      throw Error(path + ": pre_tokenizer '" + (t.empty() ? p.dump() : t) + "' is not supported (ByteLevel, Split, Metaspace)");
    }
  }
  const bool spm = !byte_level && (metaspace || replace_space) && model.value("byte_fallback", false);
  if (!byte_level && !spm)
    throw Error(path + ": neither a byte-level BPE (ByteLevel pre-tokenizer) nor a SentencePiece-style BPE "
                "(byte_fallback with a ▁ space Replace/Metaspace): not supported");

  if (spm) {
    // Scores from merge ranks: the token a merge of rank r makes scores -r (first merge wins);
    // tokens no merge makes (characters, bytes, specials) score below every merge.
    std::map<std::string, int64_t> vocab_id;
    for (uint64_t i = 0; i < n_vocab; ++i) vocab_id.emplace(tokens[i], int64_t(i));
    std::vector<double> scores(n_vocab);
    std::vector<bool> scored(n_vocab, false);
    for (size_t r = 0; r < merges.size(); ++r) {
      const size_t sp = merges[r].find(' ');
      if (sp == std::string::npos) throw Error(path + ": model.merges[" + std::to_string(r) + "] '" + merges[r] + "' is not 'a b'");
      const auto it = vocab_id.find(merges[r].substr(0, sp) + merges[r].substr(sp + 1));
      if (it == vocab_id.end() || scored[it->second]) continue;
      scores[it->second] = -double(r);
      scored[it->second] = true;
    }
    for (uint64_t i = 0; i < n_vocab; ++i)
      if (!scored[i]) scores[i] = -double(merges.size()) - double(i);
    for (uint64_t i = 0; i < n_vocab; ++i) {
      const std::string& t = tokens[i];
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && types[i] == 1) types[i] = 6;  // byte
    }
    const std::string unk = model.contains("unk_token") && model["unk_token"].is_string() ? model["unk_token"].get<std::string>() : "";
    for (uint64_t i = 0; i < n_vocab; ++i)
      if (!unk.empty() && tokens[i] == unk) {
        types[i] = 2;
        md.emplace_back("tokenizer.ggml.unknown_token_id", gguf_u32(i));
        break;
      }
    md.emplace_back("tokenizer.ggml.model", gguf_str("llama"));
    md.emplace_back("tokenizer.ggml.pre", gguf_str("default"));
    md.emplace_back("tokenizer.ggml.tokens", gguf_strs(tokens));
    md.emplace_back("tokenizer.ggml.scores", gguf_f32s(std::move(scores)));
    md.emplace_back("tokenizer.ggml.token_type", gguf_i32s(types));
    md.emplace_back("tokenizer.ggml.add_space_prefix", gguf_bool(prepend));
  } else {
    md.emplace_back("tokenizer.ggml.model", gguf_str("gpt2"));
    md.emplace_back("tokenizer.ggml.pre", gguf_str(pre));
    md.emplace_back("tokenizer.ggml.tokens", gguf_strs(tokens));
    md.emplace_back("tokenizer.ggml.token_type", gguf_i32s(types));
    md.emplace_back("tokenizer.ggml.merges", gguf_strs(merges));
  }

  // ---- special tokens: tokenizer_config.json's texts, else config.json's ids ----
  auto id_of = [&](const std::string& text) -> int64_t {
    if (text.empty()) return -1;
    for (uint64_t i = 0; i < n_vocab; ++i)
      if (tokens[i] == text) return int64_t(i);
    return -1;
  };
  const json gen = exists((fs::path(dir) / "generation_config.json").string())
                       ? read_json_file((fs::path(dir) / "generation_config.json").string())
                       : json::object();
  auto config_id = [&](const json& j, const char* key) -> int64_t {
    if (!j.contains(key)) return -1;
    const json& v = j[key].is_array() && !j[key].empty() ? j[key][0] : j[key];
    return v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<uint64_t>() < n_vocab ? v.get<int64_t>() : -1;
  };
  const std::pair<const char*, const char*> kSpecial[] = {
      {"bos", "tokenizer.ggml.bos_token_id"}, {"eos", "tokenizer.ggml.eos_token_id"},
      {"pad", "tokenizer.ggml.padding_token_id"}};
  int64_t bos = -1;
  for (const auto& s : kSpecial) {
    const std::string k = std::string(s.first) + "_token";
    int64_t id = tc_file.contains(k) ? id_of(token_text(tc_file[k])) : -1;
    if (id < 0) id = config_id(config, (k + "_id").c_str());
    if (id < 0) id = config_id(gen, (k + "_id").c_str());
    if (id >= 0) md.emplace_back(s.second, gguf_u32(uint64_t(id)));
    if (std::string(s.first) == "bos") bos = id;
  }

  // ---- add_bos / add_eos: the post-processor's template, overridden by tokenizer_config.json ----
  bool add_bos = false, add_eos = false, have_template = false;
  for (const json& p : flatten(tj.contains("post_processor") ? tj["post_processor"] : json())) {
    if (p.value("type", std::string()) != "TemplateProcessing" || !p.contains("single") || !p["single"].is_array()) continue;
    have_template = true;
    const json& single = p["single"];
    for (size_t i = 0; i < single.size(); ++i) {
      if (!single[i].contains("SpecialToken")) continue;
      const int64_t id = id_of(single[i]["SpecialToken"].value("id", std::string()));
      if (i == 0) {
        add_bos = true;
        if (id >= 0 && bos < 0) { md.emplace_back("tokenizer.ggml.bos_token_id", gguf_u32(uint64_t(id))); bos = id; }
      } else if (i + 1 == single.size()) {
        add_eos = true;
      }
    }
  }
  if (tc_file.contains("add_bos_token") && tc_file["add_bos_token"].is_boolean()) add_bos = tc_file["add_bos_token"].get<bool>();
  if (tc_file.contains("add_eos_token") && tc_file["add_eos_token"].is_boolean()) add_eos = tc_file["add_eos_token"].get<bool>();
  if (have_template || tc_file.contains("add_bos_token")) md.emplace_back("tokenizer.ggml.add_bos_token", gguf_bool(add_bos));
  if (have_template || tc_file.contains("add_eos_token")) md.emplace_back("tokenizer.ggml.add_eos_token", gguf_bool(add_eos));
  (void)special;
}

}  // namespace sci_infer
