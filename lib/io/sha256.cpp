#include "io/sha256.hpp"

#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "sci_infer/error.hpp"

namespace sci_infer {
namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

class Digest {
 public:
  explicit Digest(const std::string& what) : what_(what), ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
      throw Error(what_ + ": cannot start a SHA-256 digest (OpenSSL)");
  }
  void update(const void* p, size_t n) {
    if (n > 0 && EVP_DigestUpdate(ctx_.get(), p, n) != 1) throw Error(what_ + ": SHA-256 update failed (OpenSSL)");
  }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), md, &len) != 1) throw Error(what_ + ": SHA-256 final failed (OpenSSL)");
    static const char* digits = "0123456789abcdef";
    std::string out(2 * len, '0');
    for (unsigned i = 0; i < len; ++i) out[2 * i] = digits[md[i] >> 4], out[2 * i + 1] = digits[md[i] & 15];
    return out;
  }

 private:
  std::string what_;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx_;
};

}  // namespace

std::string sha256_hex(const void* data, size_t n) {
  Digest d("sha256_hex");
  d.update(data, n);
  return d.hex();
}

// A model directory (Hugging Face checkpoint): the hash of "name sha256" lines, one per regular
// file (names starting with '.' left out), in name order.
static std::string directory_sha256(const std::string& dir, const std::function<std::string(const std::string&)>& file_hash) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().filename().string()[0] != '.') names.push_back(e.path().filename().string());
  if (ec) throw Error(dir + ": cannot list the directory to compute its SHA-256: " + ec.message());
  std::sort(names.begin(), names.end());
  std::string lines;
  for (const auto& n : names) lines += n + " " + file_hash((fs::path(dir) / n).string()) + "\n";
  return sha256_hex(lines.data(), lines.size());
}

std::string sha256_file_hex(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    return directory_sha256(path, [](const std::string& file) { return sha256_file_hex(file); });
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error(path + ": cannot open to compute its SHA-256: " + std::strerror(errno));
  Digest d(path);
  std::vector<unsigned char> buf(4 << 20);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) d.update(buf.data(), n);
  const bool failed = std::ferror(f);
  std::fclose(f);
  if (failed) throw Error(path + ": read error while computing its SHA-256");
  return d.hex();
}

// Cache file: one line per file, "sha256 size mtime_ns inode canonical-path" (the path last: it
// may hold spaces).
FileHashCache::FileHashCache(std::string cache_file) : file_(std::move(cache_file)) {
  std::ifstream in(file_);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    Entry e;
    std::string path;
    if (!(ls >> e.sha256 >> e.size >> e.mtime_ns >> e.inode) || e.sha256.size() != 64) continue;
    ls.get();  // the separating space
    std::getline(ls, path);
    if (!path.empty()) entries_[path] = e;
  }
}

std::string FileHashCache::sha256(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string canon = fs::canonical(path, ec).string();
  struct stat st {};
  if (ec || ::stat(canon.c_str(), &st) != 0) return sha256_file_hex(path);  // names the problem
  if (S_ISDIR(st.st_mode))  // each file's hash from the cache
    return directory_sha256(canon, [this](const std::string& file) { return sha256(file); });
  Entry now;
  now.size = static_cast<uint64_t>(st.st_size);
  now.inode = static_cast<uint64_t>(st.st_ino);
  now.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  const auto it = entries_.find(canon);
  if (it != entries_.end() && it->second.size == now.size && it->second.inode == now.inode &&
      it->second.mtime_ns == now.mtime_ns)
    return it->second.sha256;
  now.sha256 = sha256_file_hex(path);
  ++hashed_;
  entries_[canon] = now;
  return now.sha256;
}

void FileHashCache::save() const {
  const std::string tmp = file_ + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& [path, e] : entries_)
      out << e.sha256 << ' ' << e.size << ' ' << e.mtime_ns << ' ' << e.inode << ' ' << path << '\n';
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw Error(file_ + ": cannot write the file-hash cache");
    }
  }
  if (std::rename(tmp.c_str(), file_.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw Error(file_ + ": cannot write the file-hash cache: " + why);
  }
}

}  // namespace sci_infer
