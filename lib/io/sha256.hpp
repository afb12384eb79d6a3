#pragma once
// SHA-256 (FIPS 180-4) for provenance: output files record the model's and the input's hash so
// a rerun months later can prove it used the same files. Computed by OpenSSL's libcrypto (EVP),
// which uses the CPU's SHA extensions where present.
#include <cstdint>
#include <map>
#include <string>

namespace sci_infer {

std::string sha256_hex(const void* data, size_t n);
// A directory (Hugging Face checkpoint): SHA-256 of "name sha256" lines for its regular files in
// name order (FileHashCache::sha256 gives the same, each file's hash from the cache).
std::string sha256_file_hex(const std::string& path);  // throws sci_infer::Error

// Hashes of big files (a 140 GB model takes minutes to hash) remembered in a small text file,
// keyed by what changes when a file is rewritten or replaced: canonical path, size,
// modification time (ns) and inode. A key that no longer matches is rehashed.
class FileHashCache {
 public:
  explicit FileHashCache(std::string cache_file);  // reads it if present; unreadable lines are ignored
  std::string sha256(const std::string& path);     // the file's hash, from the cache when the key matches
  void save() const;                               // writes the cache file atomically; throws Error
  size_t hashed() const { return hashed_; }        // files actually read by sha256() so far

 private:
  struct Entry {
    uint64_t size = 0, inode = 0;
    int64_t mtime_ns = 0;
    std::string sha256;
  };
  std::string file_;
  std::map<std::string, Entry> entries_;  // by canonical path
  size_t hashed_ = 0;
};

}  // namespace sci_infer
