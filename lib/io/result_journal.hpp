#pragma once
// The results journal: the durable commit log of a batch job (format: docs/hdf5-schema.md).
//
// Each rank appends its finished RecordResults to its own file
//   <output>.journal/rank-<R>-<pid>-<random>.bin
// and commit() makes them durable (write + fsync). A record is "done" once it is in a committed
// journal entry; out.h5 is only a periodic snapshot of the journal. A SIGKILL mid-write leaves a
// truncated last entry, which readers detect (length/CRC-32) and drop, keeping everything before.
//
// Every file names the job it belongs to in its header (an opaque job identity: the launcher's
// JobIdentity, everything that determines results). Readers are given the identity of the job
// they read for and refuse, naming the file, a journal file of another job instead of merging
// its records (a foreign journal left in the directory would otherwise mix two jobs' results).
// The default identity "" is one like any other: it matches only files written with "" (tests).
//
// Readers take every file in the directory, whatever rank count wrote them (a resumed job may
// use a different -n). Of a record present twice they keep the first copy that is a result
// (status 0 or 1): a runtime failure (status 2, e.g. too little KV cache) is not a result, and
// a resumed job recomputes it; copies of a result are identical (results are deterministic;
// differing copies are counted in the report).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sci_infer/records.hpp"

namespace sci_infer {

// "<output>.journal": where the journal of output file `output_path` lives.
std::string journal_dir_for_output(const std::string& output_path);

class JournalWriter {
 public:
  // Creates `dir` if missing and a new file for this rank (never reuses an existing file, so a
  // resumed rank never appends after another process's torn tail). Throws Error on failure.
  // `job_identity` goes into the file's header.
  JournalWriter(const std::string& dir, int rank, const std::string& job_identity = "");
  // Commits what is still buffered (best effort, never throws): these results are finished and
  // valid, so keeping them is always right.
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  void append(const RecordResult& result);  // buffered in memory; not durable until commit()
  void commit();            // writes the buffered entries and fsyncs; throws Error on failure
  size_t buffered() const;  // entries appended since the last commit
  uint64_t committed_entries() const;
  const std::string& path() const;

 private:
  void write_all(const char* data, size_t size);
  std::string path_;
  int fd_ = -1;
  std::string buffer_;
  size_t buffered_ = 0;
  uint64_t committed_entries_ = 0;
  uint64_t committed_bytes_ = 0;
  bool dir_synced_ = false;
};

struct JournalReadReport {
  size_t files = 0;                  // journal files read
  size_t entries = 0;                // intact entries (duplicates included)
  size_t duplicates = 0;             // entries for a record already seen (dropped)
  size_t conflicting_duplicates = 0; // ... of which differed from the first copy
  size_t torn_files = 0;             // files whose tail was truncated or corrupt (tail dropped)
  std::vector<std::string> notes;    // one human-readable line per torn file / conflict
};

// All results in the journal directory `dir`, keyed by record index. A missing directory is an
// empty journal. Throws Error for unreadable files, files that are not journals of a known
// version (rank-*.bin with a wrong header), and journal files whose job identity is not
// `job_identity` (a foreign job's); other file names in the directory are ignored.
// Memory: about 200 bytes per record plus its tokens/text/logprobs/embedding; use JournalIndex
// to assemble a large output without holding every result.
std::map<uint64_t, RecordResult> read_journal_dir(const std::string& dir,
                                                  JournalReadReport* report = nullptr,
                                                  const std::string& job_identity = "");

// The job identity in the header of each journal file of `dir` (path, identity), sorted by
// path; files whose header is not written yet (no results) are left out. Lets a caller name
// what differs before a reader refuses the file. Throws Error like read_journal_dir.
std::vector<std::pair<std::string, std::string>> journal_file_identities(const std::string& dir);

// An index of a journal directory: record index -> (file, offset) of its first intact entry,
// 24 bytes per record; load() reads one result back from disk on demand. Built by one pass over
// all files (which checks every CRC, like read_journal_dir).
class JournalIndex {
 public:
  explicit JournalIndex(const std::string& dir, JournalReadReport* report = nullptr,
                        const std::string& job_identity = "");
  ~JournalIndex();
  JournalIndex(const JournalIndex&) = delete;
  JournalIndex& operator=(const JournalIndex&) = delete;

  size_t size() const;                                  // distinct records
  bool contains(uint64_t index) const;
  bool load(uint64_t index, RecordResult& out) const;   // false if not in the journal
  std::vector<uint64_t> indices() const;                // ascending
  // The records that have a result (status 0 or 1), ascending: not those whose only copies
  // are runtime failures (status 2), which a resumed job recomputes.
  std::vector<uint64_t> result_indices() const;

 private:
  struct Location {
    uint64_t index;
    uint64_t offset;  // of the payload
    uint32_t length : 31;          // of the payload (<= kMaxPayload)
    uint32_t runtime_failure : 1;  // status 2: superseded by a later result
    uint32_t file;
  };
  const Location* find(uint64_t index) const;
  int fd(uint32_t file) const;
  std::vector<std::string> files_;
  mutable std::vector<int> fds_;
  std::vector<Location> locations_;  // sorted by index, unique
};

namespace journal_format {
// Exposed for tests and tools.
constexpr char kFileMagic[8] = {'S', 'C', 'I', 'J', 'R', 'N', 'L', '1'};
// 2: the header holds the job identity (version 1 files, without it, are refused).
constexpr uint32_t kVersion = 2;
constexpr size_t kHeaderSize = 16;          // magic, u32 version, u32 identity length; then the identity
constexpr uint32_t kMaxIdentity = 1u << 20; // longer identities can only be corruption
inline size_t header_size(const std::string& job_identity) { return kHeaderSize + job_identity.size(); }
constexpr uint32_t kEntryMagic = 0x45494353;// "SCIE" little-endian
constexpr size_t kEntryOverhead = 12;       // u32 magic, u32 length, ..., u32 crc
constexpr uint32_t kMaxPayload = 1u << 30;  // larger lengths can only be corruption
uint32_t crc32(const void* data, size_t size);
std::string encode_payload(const RecordResult& r);
bool decode_payload(const char* data, size_t size, RecordResult& out);  // false if malformed
}  // namespace journal_format

}  // namespace sci_infer
