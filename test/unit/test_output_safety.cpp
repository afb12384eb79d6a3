// The launcher's output safety pieces (apps/launcher/output_lock, output_paths) and the
// large-count broadcast used for the per-record "done" flags.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "output_lock.hpp"
#include "output_paths.hpp"
#include "parallel/large_bcast.hpp"
#include "sci_infer/error.hpp"
#include "temp_dir.hpp"

using namespace sci_infer;
using sci_infer::testing::TempDir;

TEST_CASE("bcast_pieces covers every byte once, each piece within an int count", "[bcast]") {
  // 2^31 + 5 bytes (a job of more than 2^31-1 records) in pieces of at most INT_MAX.
  const uint64_t total = (uint64_t(1) << 31) + 5;
  auto pieces = bcast_pieces(total, INT_MAX);
  REQUIRE(pieces.size() == 2);
  CHECK(pieces[0] == std::make_pair(uint64_t(0), INT_MAX));
  CHECK(pieces[1].first == uint64_t(INT_MAX));
  CHECK(pieces[1].second == 6);  // 2^31 + 5 - (2^31 - 1)
  pieces = bcast_pieces(10, 3);
  REQUIRE(pieces.size() == 4);
  CHECK(pieces[3] == std::make_pair(uint64_t(9), 1));
  CHECK(bcast_pieces(0, 3).empty());
  CHECK_THROWS_AS(bcast_pieces(10, 0), Error);
}

TEST_CASE("bcast_bytes moves a buffer in small pieces", "[bcast]") {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) MPI_Init(nullptr, nullptr);  // singleton MPI: one rank, MPI_COMM_SELF
  std::vector<uint8_t> data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 7);
  const std::vector<uint8_t> want = data;
  bcast_bytes(data.data(), data.size(), 0, MPI_COMM_SELF, 7);  // 143 pieces
  CHECK(data == want);
}

TEST_CASE("an output lock admits one job and names its holder", "[output]") {
  TempDir dir("output_lock");
  const std::string out = dir.file("out.h5");
  {
    cli::OutputLock first(out);
    REQUIRE(first.held());
    std::ifstream f(out + ".lock");
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    CHECK(text.find("pid " + std::to_string(::getpid())) != std::string::npos);
    // A second lock (another open file description, as another process would have) is refused.
    try {
      cli::OutputLock second(out);
      FAIL("a second lock on the same output was granted");
    } catch (const Error& e) {
      CHECK(std::string(e.what()).find("in use by another job") != std::string::npos);
      CHECK(std::string(e.what()).find("pid " + std::to_string(::getpid())) != std::string::npos);
    }
  }
  CHECK_FALSE(std::filesystem::exists(out + ".lock"));  // removed by its holder
  std::ofstream(out + ".lock") << "host gone pid 1\n";  // a killed job's file: no lock on it
  cli::OutputLock again(out);
  CHECK(again.held());
}

TEST_CASE("an output lock in a missing or unwritable directory is refused with the reason", "[output]") {
  CHECK_THROWS_WITH(cli::OutputLock("/nonexistent-dir/out.h5"), Catch::Contains("No such file or directory"));
}

TEST_CASE("an output path never names a job's own file or a non-regular file", "[output]") {
  TempDir dir("output_paths");
  const std::string in = dir.file("in.h5"), model = dir.file("m.gguf"), journal = dir.file("out.h5.journal");
  std::ofstream(in) << "input";
  std::ofstream(model) << "model";
  const std::vector<cli::ProtectedFile> protect{{"input", in}, {"model", model}};
  CHECK_NOTHROW(cli::check_output_path(dir.file("new.h5"), dir.file("new.h5.journal"), protect));
  CHECK_THROWS_WITH(cli::check_output_path(in, journal, protect), Catch::Contains("is the job's input"));
  REQUIRE(::link(model.c_str(), dir.file("hard.gguf").c_str()) == 0);
  CHECK_THROWS_WITH(cli::check_output_path(dir.file("hard.gguf"), journal, protect), Catch::Contains("is the job's model"));
  REQUIRE(::symlink(in.c_str(), dir.file("link.h5").c_str()) == 0);
  CHECK_THROWS_WITH(cli::check_output_path(dir.file("link.h5"), journal, protect), Catch::Contains("is the job's input"));
  REQUIRE(::mkfifo(dir.file("fifo").c_str(), 0644) == 0);
  CHECK_THROWS_WITH(cli::check_output_path(dir.file("fifo"), journal, protect), Catch::Contains("is a fifo"));
  CHECK_THROWS_WITH(cli::check_output_path(dir.file("."), journal, protect), Catch::Contains("is a directory"));
  if (::mknod(dir.file("null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0)  // needs root
    CHECK_THROWS_WITH(cli::check_output_path(dir.file("null"), journal, protect), Catch::Contains("character device"));
  // A journal directory holding a job's own file (or anything not a regular file) is refused.
  std::filesystem::create_directories(journal);
  REQUIRE(::link(in.c_str(), (journal + "/rank-0-1-x.bin").c_str()) == 0);
  CHECK_THROWS_WITH(cli::check_output_path(dir.file("out.h5"), journal, protect), Catch::Contains("is the job's input"));
  std::ofstream(dir.file("plain")) << "x";
  CHECK_THROWS_WITH(cli::check_output_path(dir.file("plain"), dir.file("plain"), protect),
                    Catch::Contains("not a journal directory"));
  CHECK_FALSE(cli::is_sci_infer_output(in));
}
