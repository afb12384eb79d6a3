// SHA-256 (OpenSSL EVP) against the FIPS 180-2 known answers, the file-hash cache, and the job
// identity that journal files carry (a foreign job's journal is refused, not merged; a runtime
// failure is superseded by a later result of the same record).
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <utime.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "io/result_journal.hpp"
#include "io/sha256.hpp"
#include "sci_infer/error.hpp"
#include "temp_dir.hpp"

using namespace sci_infer;
using Catch::Matchers::Contains;

namespace {

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

RecordResult result(uint64_t index, int32_t status, const std::string& text) {
  RecordResult r;
  r.index = index;
  r.status = status;
  r.text = text;
  if (status != 0) r.error = "failed: " + text;
  return r;
}

}  // namespace

TEST_CASE("sha256: FIPS 180-2 known answers", "[sha256]") {
  // FIPS 180-2, appendix B.1 ("abc") and B.2 (the 448-bit message); the empty string.
  CHECK(sha256_hex("abc", 3) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string b2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(sha256_hex(b2.data(), b2.size()) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex("", 0) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // B.3: one million 'a', through the file reader (several 4 MiB reads' worth of buffering).
  testing::TempDir dir("sha256");
  const std::string f = dir.file("million_a");
  write_file(f, std::string(1000000, 'a'));
  CHECK(sha256_file_hex(f) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  CHECK_THROWS_WITH(sha256_file_hex(dir.file("missing")), Contains("missing"));
}

TEST_CASE("sha256: the file-hash cache rehashes only a changed file", "[sha256]") {
  testing::TempDir dir("hashcache");
  const std::string f = dir.file("model.bin"), cache_file = dir.file("cache.txt");
  write_file(f, "abc");
  const std::string abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  {
    FileHashCache cache(cache_file);  // no file yet: empty
    CHECK(cache.sha256(f) == abc);
    CHECK(cache.hashed() == 1);
    cache.save();
  }
  {
    FileHashCache cache(cache_file);
    CHECK(cache.sha256(f) == abc);
    CHECK(cache.hashed() == 0);  // from the cache: the key (path, size, mtime, inode) matches
  }
  // Same size, new content and a new modification time: rehashed.
  write_file(f, "abd");
  struct utimbuf t {1000000000, 1000000000};
  REQUIRE(::utime(f.c_str(), &t) == 0);
  {
    FileHashCache cache(cache_file);
    CHECK(cache.sha256(f) == sha256_hex("abd", 3));
    CHECK(cache.hashed() == 1);
  }
  // A corrupt cache file is ignored, not trusted.
  write_file(cache_file, "garbage line\n" + std::string(64, 'z') + " 3 x y " + f + "\n");
  FileHashCache cache(cache_file);
  CHECK(cache.sha256(f) == sha256_hex("abd", 3));
  CHECK(cache.hashed() == 1);
}

TEST_CASE("journal: files carry the job identity and another job's file is refused", "[journal]") {
  testing::TempDir dir("jident");
  const std::string jdir = dir.file("out.h5.journal");
  std::string mine_file, foreign_file;
  {
    JournalWriter w(jdir, 0, R"({"--seed":"1"})");
    w.append(result(0, 0, "zero"));
    w.commit();
    mine_file = w.path();
  }
  auto ok = read_journal_dir(jdir, nullptr, R"({"--seed":"1"})");
  REQUIRE(ok.size() == 1);
  CHECK(ok.at(0).text == "zero");
  {
    JournalWriter w(jdir, 1, R"({"--seed":"99"})");
    w.append(result(1, 0, "one"));
    w.commit();
    foreign_file = w.path();
  }
  const auto ids = journal_file_identities(jdir);
  REQUIRE(ids.size() == 2);
  for (const auto& [file, id] : ids) CHECK(id == (file == mine_file ? R"({"--seed":"1"})" : R"({"--seed":"99"})"));
  CHECK_THROWS_WITH(read_journal_dir(jdir, nullptr, R"({"--seed":"1"})"),
                    Contains(foreign_file) && Contains("another job"));
  CHECK_THROWS_WITH(JournalIndex(jdir, nullptr, R"({"--seed":"1"})"), Contains(foreign_file) && Contains("another job"));
}

TEST_CASE("journal: a version-1 file (no job identity) is refused with the reason", "[journal]") {
  testing::TempDir dir("jv1");
  const std::string jdir = dir.file("j");
  std::filesystem::create_directories(jdir);
  std::string header(journal_format::kFileMagic, 8);
  header += std::string("\x01\0\0\0\0\0\0\0", 8);  // u32 version 1, u32 reserved
  write_file(jdir + "/rank-0-1-abc.bin", header);
  CHECK_THROWS_WITH(read_journal_dir(jdir), Contains("rank-0-1-abc.bin") && Contains("version 1"));
}

TEST_CASE("journal: a runtime failure (status 2) is superseded by a later result", "[journal]") {
  testing::TempDir dir("jretry");
  const std::string jdir = dir.file("j");
  // File names sort "rank-0..." before "rank-1...": the failure is the first copy read.
  {
    JournalWriter w(jdir, 0);
    w.append(result(0, 2, "no KV cache"));
    w.append(result(1, 0, "one"));
    w.append(result(2, 2, "no KV cache"));
    w.commit();
  }
  {
    JournalWriter w(jdir, 1);
    w.append(result(0, 0, "zero"));  // the resumed job's recomputation
    w.commit();
  }
  JournalReadReport report;
  auto all = read_journal_dir(jdir, &report);
  CHECK(all.at(0).status == 0);
  CHECK(all.at(0).text == "zero");
  CHECK(all.at(2).status == 2);  // never recomputed: stays a failure
  CHECK(report.conflicting_duplicates == 0);
  JournalIndex index(jdir);
  RecordResult r;
  REQUIRE(index.load(0, r));
  CHECK(r.status == 0);
  CHECK(r.text == "zero");
  CHECK(index.indices() == std::vector<uint64_t>{0, 1, 2});
  CHECK(index.result_indices() == std::vector<uint64_t>{0, 1});
}
