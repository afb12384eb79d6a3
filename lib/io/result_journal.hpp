#pragma once
// The results journal: the durable commit log of a batch job (format: docs/hdf5-schema.md).
//
// Each rank appends its finished RecordResults to its own file
//   <output>.journal/rank-<R>-<pid>-<random>.bin
// and commit() makes them durable (write + fsync). A record is "done" once it is in a committed
// journal entry; out.h5 is only a periodic snapshot of the journal. A SIGKILL mid-write leaves a
// truncated last entry, which readers detect (length/CRC-32) and drop, keeping everything before.
//
// Readers take every file in the directory, whatever rank count wrote them (a resumed job may
// use a different -n), and keep the first copy of a record seen twice (results are
// deterministic, so copies are identical; differing copies are counted in the report).
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
  JournalWriter(const std::string& dir, int rank);
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
// empty journal. Throws Error for unreadable files or files that are not journals of a known
// version (rank-*.bin with a wrong header); other file names in the directory are ignored.
// Memory: about 200 bytes per record plus its tokens/text/logprobs/embedding; use JournalIndex
// to assemble a large output without holding every result.
std::map<uint64_t, RecordResult> read_journal_dir(const std::string& dir,
                                                  JournalReadReport* report = nullptr);

// An index of a journal directory: record index -> (file, offset) of its first intact entry,
// 24 bytes per record; load() reads one result back from disk on demand. Built by one pass over
// all files (which checks every CRC, like read_journal_dir).
class JournalIndex {
 public:
  explicit JournalIndex(const std::string& dir, JournalReadReport* report = nullptr);
  ~JournalIndex();
  JournalIndex(const JournalIndex&) = delete;
  JournalIndex& operator=(const JournalIndex&) = delete;

  size_t size() const;                                  // distinct records
  bool contains(uint64_t index) const;
  bool load(uint64_t index, RecordResult& out) const;   // false if not in the journal
  std::vector<uint64_t> indices() const;                // ascending

 private:
  struct Location {
    uint64_t index;
    uint64_t offset;  // of the payload
    uint32_t length;  // of the payload
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
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 16;          // magic, u32 version, u32 reserved (0)
constexpr uint32_t kEntryMagic = 0x45494353;// "SCIE" little-endian
constexpr size_t kEntryOverhead = 12;       // u32 magic, u32 length, ..., u32 crc
constexpr uint32_t kMaxPayload = 1u << 30;  // larger lengths can only be corruption
uint32_t crc32(const void* data, size_t size);
std::string encode_payload(const RecordResult& r);
bool decode_payload(const char* data, size_t size, RecordResult& out);  // false if malformed
}  // namespace journal_format

}  // namespace sci_infer
