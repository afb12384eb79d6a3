#pragma once
// The exit codes of `sci-infer` (every subcommand; `run` uses all of them). One table: the
// constants below, the text `sci-infer run --help` prints (kExitCodeHelp), and docs/exit-codes.md
// must say the same thing.
namespace sci_infer::cli {

constexpr int kExitOk = 0;              // every record done, every record status 0
constexpr int kExitInternal = 1;        // an unexpected internal error (a bug): the message names it
constexpr int kExitRefused = 2;         // refused before work, or a whole-job error every rank agreed on:
                                        // a bad option, a bad input or model file, an existing output,
                                        // a changed job on --resume (nothing was written)
constexpr int kExitHung = 3;            // a rank made no progress for --collective-timeout s (dead/hung peer)
constexpr int kExitRecordsFailed = 4;   // the job is complete but some records failed (status 1 or 2):
                                        // the output holds every record, with its error
constexpr int kExitRunFailed = 5;       // the run failed part-way (I/O error on the output or journal, out
                                        // of memory, ...): every rank stopped with the first failing
                                        // rank's message; committed results are kept, fix the cause and
                                        // rerun with --resume
constexpr int kExitInterrupted = 75;    // stopped by SIGTERM/SIGUSR1/SIGINT after committing (EX_TEMPFAIL):
                                        // rerun with --resume

constexpr const char* kExitCodeHelp =
    "Exit codes:\n"
    "  0   done: every record has status 0\n"
    "  1   internal error (a bug; the message names it)\n"
    "  2   refused or stopped by an error all ranks agreed on (bad option or file, output exists,\n"
    "      job changed on --resume, ...): the message says what; also any command-line parse error\n"
    "  3   a rank made no progress for --collective-timeout seconds (dead or hung peer)\n"
    "  4   complete, but some records failed (status 1 or 2, /results/error says why)\n"
    "  5   the run failed part-way (I/O error, out of memory): committed results are kept;\n"
    "      fix the cause and rerun with --resume\n"
    "  75  interrupted by SIGTERM/SIGUSR1/SIGINT after committing: rerun with --resume\n";

}  // namespace sci_infer::cli
