#include "io/result_journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "sci_infer/error.hpp"

namespace sci_infer {

namespace fs = std::filesystem;

std::string journal_dir_for_output(const std::string& output_path) {
  return output_path + ".journal";
}

// =============================================================================================
// Format: little-endian, length-prefixed fields, CRC-32 (IEEE 802.3, as zlib) per entry.
// =============================================================================================

namespace journal_format {

namespace {

std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
  void f32(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    u32(bits);
  }
  void count(size_t n) {
    if (n > UINT32_MAX) throw Error("journal: a result field has more than 2^32 elements");
    u32(static_cast<uint32_t>(n));
  }
  void str(const std::string& s) {
    count(s.size());
    out_ += s;
  }
  void ints(const std::vector<int32_t>& v) {
    count(v.size());
    for (int32_t x : v) i32(x);
  }
  void floats(const std::vector<float>& v) {
    count(v.size());
    for (float x : v) f32(x);
  }

 private:
  std::string& out_;
};

// Bounds-checked reader: every getter returns false instead of reading past the end.
class Reader {
 public:
  Reader(const char* p, size_t n) : p_(reinterpret_cast<const unsigned char*>(p)), n_(n) {}
  bool u32(uint32_t& v) {
    if (n_ - pos_ < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p_[pos_ + i]) << (8 * i);
    pos_ += 4;
    return true;
  }
  bool u64(uint64_t& v) {
    uint32_t lo, hi;
    if (!u32(lo) || !u32(hi)) return false;
    v = (static_cast<uint64_t>(hi) << 32) | lo;
    return true;
  }
  bool i32(int32_t& v) {
    uint32_t u;
    if (!u32(u)) return false;
    v = static_cast<int32_t>(u);
    return true;
  }
  bool f32(float& v) {
    uint32_t u;
    if (!u32(u)) return false;
    std::memcpy(&v, &u, 4);
    return true;
  }
  bool str(std::string& s) {
    uint32_t n;
    if (!u32(n) || n_ - pos_ < n) return false;
    s.assign(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return true;
  }
  template <class T, class Get>
  bool array(std::vector<T>& v, Get get) {
    uint32_t n;
    if (!u32(n) || (n_ - pos_) / 4 < n) return false;
    v.resize(n);
    for (uint32_t i = 0; i < n; ++i) (this->*get)(v[i]);
    return true;
  }
  bool at_end() const { return pos_ == n_; }

 private:
  const unsigned char* p_;
  size_t n_;
  size_t pos_ = 0;
};

}  // namespace

uint32_t crc32(const void* data, size_t size) {
  static const std::array<uint32_t, 256> table = make_crc_table();
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string encode_payload(const RecordResult& r) {
  std::string out;
  Writer w(out);
  w.u64(r.index);
  w.i32(r.status);
  w.str(r.error);
  w.ints(r.tokens);
  w.str(r.text);
  w.floats(r.logprobs);
  w.i32(static_cast<int32_t>(r.finish));
  w.floats(r.embedding);
  return out;
}

bool decode_payload(const char* data, size_t size, RecordResult& out) {
  Reader rd(data, size);
  int32_t finish = 0;
  bool ok = rd.u64(out.index) && rd.i32(out.status) && rd.str(out.error) &&
            rd.array(out.tokens, &Reader::i32) && rd.str(out.text) &&
            rd.array(out.logprobs, &Reader::f32) && rd.i32(finish) &&
            rd.array(out.embedding, &Reader::f32) && rd.at_end();
  if (!ok || finish < 0 || finish > static_cast<int32_t>(FinishReason::Error)) return false;
  out.finish = static_cast<FinishReason>(finish);
  return true;
}

}  // namespace journal_format

namespace jf = journal_format;

namespace {

std::string errno_text() { return std::strerror(errno); }

void put_u32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

uint32_t get_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open for fsync: " + errno_text());
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  // Some file systems refuse fsync on directories (EINVAL): nothing more can be done there.
  if (rc != 0 && saved != EINVAL) throw Error(path + ": fsync failed: " + std::strerror(saved));
}

std::string random_hex() {
  std::random_device rd;
  uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

// =============================================================================================
// Writer
// =============================================================================================

JournalWriter::JournalWriter(const std::string& dir, int rank, const std::string& job_identity) {
  if (job_identity.size() > jf::kMaxIdentity) throw Error(dir + ": job identity too long for a journal header");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create journal directory: " + ec.message());
  // pid + random: unique across hosts and across restarts that reuse a pid.
  for (int attempt = 0; fd_ < 0; ++attempt) {
    path_ = (fs::path(dir) / ("rank-" + std::to_string(rank) + "-" + std::to_string(::getpid()) +
                              "-" + random_hex() + ".bin"))
                .string();
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0 && (errno != EEXIST || attempt > 8))
      throw Error(path_ + ": cannot create journal file: " + errno_text());
  }
  char header[jf::kHeaderSize] = {0};
  std::memcpy(header, jf::kFileMagic, sizeof jf::kFileMagic);
  put_u32(header + 8, jf::kVersion);
  put_u32(header + 12, static_cast<uint32_t>(job_identity.size()));
  buffer_.assign(header, sizeof header);  // made durable by the first commit
  buffer_ += job_identity;
}

JournalWriter::~JournalWriter() {
  try {
    if (buffered_ > 0 || committed_bytes_ == 0) commit();
  } catch (...) {
    // Destructors must not throw; the caller's own commit() reports errors.
  }
  if (fd_ >= 0) ::close(fd_);
}

void JournalWriter::append(const RecordResult& result) {
  const std::string payload = jf::encode_payload(result);
  if (payload.size() > jf::kMaxPayload)
    throw Error(path_ + ": result of record " + std::to_string(result.index) +
                " is too large for a journal entry (" + std::to_string(payload.size()) + " bytes)");
  char head[8];
  put_u32(head, jf::kEntryMagic);
  put_u32(head + 4, static_cast<uint32_t>(payload.size()));
  char crc[4];
  put_u32(crc, jf::crc32(payload.data(), payload.size()));
  buffer_.append(head, sizeof head);
  buffer_ += payload;
  buffer_.append(crc, sizeof crc);
  ++buffered_;
}

void JournalWriter::write_all(const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd_, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = n < 0 ? errno_text() : "short write";
      // Cut back to the last commit so later commits do not follow a torn entry (if even that
      // fails, readers still stop at the torn entry and keep everything committed before it).
      [[maybe_unused]] int rc = ::ftruncate(fd_, static_cast<off_t>(committed_bytes_));
      throw Error(path_ + ": journal write failed: " + why);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

void JournalWriter::commit() {
  if (fd_ < 0) throw Error(path_ + ": journal is closed");
  if (!buffer_.empty()) {
    write_all(buffer_.data(), buffer_.size());
    if (::fsync(fd_) != 0) throw Error(path_ + ": journal fsync failed: " + errno_text());
    committed_bytes_ += buffer_.size();
    committed_entries_ += buffered_;
    buffer_.clear();
    buffered_ = 0;
  }
  if (!dir_synced_) {
    // The new file's directory entry (and the directory's own, if we just created it) must be
    // durable too, or a crash could lose the whole file despite the fsync above.
    const fs::path dir = fs::path(path_).parent_path();
    fsync_path(dir.string());
    fsync_path(dir.has_parent_path() ? dir.parent_path().string() : ".");
    dir_synced_ = true;
  }
}

size_t JournalWriter::buffered() const { return buffered_; }
uint64_t JournalWriter::committed_entries() const { return committed_entries_; }
const std::string& JournalWriter::path() const { return path_; }

// =============================================================================================
// Reading
// =============================================================================================

namespace {

bool is_journal_name(const std::string& name) {
  return name.rfind("rank-", 0) == 0 && name.size() > 9 &&
         name.compare(name.size() - 4, 4, ".bin") == 0;
}

// The journal files of `dir`, sorted so that "first copy wins" is reproducible.
std::vector<std::string> journal_files(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (is_journal_name(name) && it->is_regular_file()) files.push_back(it->path().string());
  }
  if (ec) throw Error(dir + ": cannot list journal directory: " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

struct Entry {
  const std::string& payload;
  uint64_t payload_offset;
  uint32_t crc;
  RecordResult& result;  // decoded; the callback may move from it
};

// Reads a journal file's header. Returns false (noting why, if `torn` is given) when the file
// holds no results yet: killed between creating the file and its first commit. Throws Error
// for a file that is not a journal of this format version.
bool read_header(std::ifstream& in, const std::string& path, std::string& identity,
                 const std::function<void(uint64_t, const std::string&)>& torn) {
  char header[jf::kHeaderSize];
  in.read(header, sizeof header);
  if (static_cast<size_t>(in.gcount()) < sizeof header) {
    if (in.gcount() > 0) torn(0, "truncated header");
    return false;
  }
  if (std::all_of(header, header + sizeof header, [](char c) { return c == 0; })) {
    // Zeros where the header belongs: a file still being created, seen through a network file
    // system that exposes the new size before the data. Nothing committed yet.
    torn(0, "header not written yet");
    return false;
  }
  if (std::memcmp(header, jf::kFileMagic, sizeof jf::kFileMagic) != 0)
    throw Error(path + ": not a sci_infer results journal (bad magic)");
  const uint32_t version = get_u32(header + 8);
  if (version != jf::kVersion)
    throw Error(path + ": journal format version " + std::to_string(version) +
                " is not supported (this build reads version " + std::to_string(jf::kVersion) +
                (version == 1 ? ", whose header names the job; version 1 journals, written by an older "
                                "sci-infer, cannot be checked against the job: finish that job with the "
                                "sci-infer that started it, or rerun with --overwrite"
                              : "") +
                ")");
  const uint32_t length = get_u32(header + 12);
  if (length > jf::kMaxIdentity) throw Error(path + ": corrupt journal header (job identity of " +
                                             std::to_string(length) + " bytes)");
  identity.resize(length);
  in.read(identity.data(), length);
  if (static_cast<uint32_t>(in.gcount()) < length) {
    torn(0, "truncated header");
    return false;
  }
  return true;
}

// Calls `on_entry` for each intact entry of one file, in order, and stops at the first
// truncated or corrupt one (a crash mid-write), noting it in the report. Refuses a file whose
// header names another job than `job_identity`.
void scan_file(const std::string& path, const std::string& job_identity, JournalReadReport& report,
               const std::function<void(Entry&)>& on_entry) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open journal file: " + errno_text());
  ++report.files;
  auto torn = [&](uint64_t offset, const std::string& why) {
    ++report.torn_files;
    report.notes.push_back(path + ": " + why + " at byte " + std::to_string(offset) +
                           "; the rest of this file is ignored");
  };

  std::string identity;
  if (!read_header(in, path, identity, torn)) return;
  if (identity != job_identity)
    throw Error(path + ": a journal file of another job (its header names another job identity); "
                "its records are not merged: move it out of " + fs::path(path).parent_path().string() +
                " or write this job to another output");

  uint64_t offset = jf::header_size(identity);
  std::string payload;
  RecordResult result;
  for (;;) {
    char head[8];
    in.read(head, sizeof head);
    if (in.gcount() == 0) return;  // clean end
    if (in.gcount() < 8) return torn(offset, "truncated entry header");
    if (get_u32(head) != jf::kEntryMagic) return torn(offset, "bad entry magic");
    const uint32_t length = get_u32(head + 4);
    if (length > jf::kMaxPayload) return torn(offset, "impossible entry length");
    payload.resize(length);
    char crc_bytes[4];
    in.read(payload.data(), length);
    if (static_cast<uint32_t>(in.gcount()) < length) return torn(offset, "truncated entry");
    in.read(crc_bytes, 4);
    if (in.gcount() < 4) return torn(offset, "truncated entry");
    const uint32_t crc = get_u32(crc_bytes);
    if (crc != jf::crc32(payload.data(), payload.size())) return torn(offset, "CRC mismatch");
    result = RecordResult{};
    if (!jf::decode_payload(payload.data(), payload.size(), result))
      return torn(offset, "malformed entry");
    Entry e{payload, offset + 8, crc, result};
    ++report.entries;
    on_entry(e);
    offset += jf::kEntryOverhead + length;
  }
}

// Status 2 (kStatusRuntimeError in hdf5_output.hpp): the record failed while running.
bool is_runtime_failure(int32_t status) { return status == 2; }

void note_duplicate(JournalReadReport& report, uint64_t index, bool identical) {
  ++report.duplicates;
  if (identical) return;
  ++report.conflicting_duplicates;
  report.notes.push_back("record " + std::to_string(index) +
                         " has differing results in the journal; the first copy is kept");
}

}  // namespace

std::map<uint64_t, RecordResult> read_journal_dir(const std::string& dir,
                                                  JournalReadReport* report,
                                                  const std::string& job_identity) {
  JournalReadReport local;
  JournalReadReport& rep = report ? *report : local;
  std::map<uint64_t, RecordResult> results;
  for (const std::string& file : journal_files(dir)) {
    scan_file(file, job_identity, rep, [&](Entry& e) {
      auto it = results.find(e.result.index);
      if (it == results.end()) {
        results.emplace(e.result.index, std::move(e.result));
      } else if (is_runtime_failure(it->second.status) || is_runtime_failure(e.result.status)) {
        // A recomputed runtime failure: the first result (status 0/1) wins, not a conflict.
        note_duplicate(rep, e.result.index, true);
        if (is_runtime_failure(it->second.status) && !is_runtime_failure(e.result.status))
          it->second = std::move(e.result);
      } else {
        note_duplicate(rep, e.result.index, jf::encode_payload(it->second) == e.payload);
      }
    });
  }
  return results;
}

std::vector<std::pair<std::string, std::string>> journal_file_identities(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& file : journal_files(dir)) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw Error(file + ": cannot open journal file: " + errno_text());
    std::string identity;
    if (read_header(in, file, identity, [](uint64_t, const std::string&) {})) out.emplace_back(file, identity);
  }
  return out;
}

// =============================================================================================
// Index
// =============================================================================================

JournalIndex::JournalIndex(const std::string& dir, JournalReadReport* report,
                           const std::string& job_identity) {
  JournalReadReport local;
  JournalReadReport& rep = report ? *report : local;
  files_ = journal_files(dir);
  std::vector<std::pair<Location, uint32_t>> all;  // with the CRC, to compare duplicates
  for (uint32_t f = 0; f < files_.size(); ++f) {
    scan_file(files_[f], job_identity, rep, [&](Entry& e) {
      Location loc{e.result.index, e.payload_offset, static_cast<uint32_t>(e.payload.size()),
                   is_runtime_failure(e.result.status) ? 1u : 0u, f};
      all.push_back({loc, e.crc});
    });
  }
  // Stable: among copies of one record the earliest (file order, then offset) stays first.
  std::stable_sort(all.begin(), all.end(),
                   [](const auto& a, const auto& b) { return a.first.index < b.first.index; });
  locations_.reserve(all.size());
  for (size_t i = 0; i < all.size();) {
    size_t end = i + 1;
    while (end < all.size() && all[end].first.index == all[i].first.index) ++end;
    // The first copy that is a result; the first runtime failure if there is none.
    size_t keep = i;
    while (keep < end && all[keep].first.runtime_failure) ++keep;
    if (keep == end) keep = i;
    for (size_t k = i; k < end; ++k) {
      if (k == keep) continue;
      const bool retry = all[k].first.runtime_failure || all[keep].first.runtime_failure;
      note_duplicate(rep, all[k].first.index,
                     retry || (all[keep].second == all[k].second && all[keep].first.length == all[k].first.length));
    }
    locations_.push_back(all[keep].first);
    i = end;
  }
  fds_.assign(files_.size(), -1);
}

JournalIndex::~JournalIndex() {
  for (int fd : fds_)
    if (fd >= 0) ::close(fd);
}

size_t JournalIndex::size() const { return locations_.size(); }

const JournalIndex::Location* JournalIndex::find(uint64_t index) const {
  auto it = std::lower_bound(locations_.begin(), locations_.end(), index,
                             [](const Location& l, uint64_t i) { return l.index < i; });
  return (it != locations_.end() && it->index == index) ? &*it : nullptr;
}

bool JournalIndex::contains(uint64_t index) const { return find(index) != nullptr; }

std::vector<uint64_t> JournalIndex::indices() const {
  std::vector<uint64_t> out;
  out.reserve(locations_.size());
  for (const Location& l : locations_) out.push_back(l.index);
  return out;
}

std::vector<uint64_t> JournalIndex::result_indices() const {
  std::vector<uint64_t> out;
  for (const Location& l : locations_)
    if (!l.runtime_failure) out.push_back(l.index);
  return out;
}

int JournalIndex::fd(uint32_t file) const {
  if (fds_[file] >= 0) return fds_[file];
  // Thousands of rank files would exhaust descriptors: keep at most 64 open.
  constexpr size_t kMaxOpen = 64;
  if (std::count_if(fds_.begin(), fds_.end(), [](int f) { return f >= 0; }) >=
      static_cast<long>(kMaxOpen)) {
    for (int& f : fds_)
      if (f >= 0) ::close(f), f = -1;
  }
  fds_[file] = ::open(files_[file].c_str(), O_RDONLY | O_CLOEXEC);
  if (fds_[file] < 0) throw Error(files_[file] + ": cannot reopen journal file: " + errno_text());
  return fds_[file];
}

bool JournalIndex::load(uint64_t index, RecordResult& out) const {
  const Location* loc = find(index);
  if (!loc) return false;
  std::string payload(loc->length, '\0');
  size_t done = 0;
  while (done < payload.size()) {
    ssize_t n = ::pread(fd(loc->file), payload.data() + done, payload.size() - done,
                        static_cast<off_t>(loc->offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error(files_[loc->file] + ": cannot read journal entry: " + errno_text());
    done += static_cast<size_t>(n);
  }
  out = RecordResult{};
  if (!jf::decode_payload(payload.data(), payload.size(), out))
    throw Error(files_[loc->file] + ": journal entry of record " + std::to_string(index) +
                " changed since it was indexed");
  return true;
}

}  // namespace sci_infer
