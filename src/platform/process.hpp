#pragma once
// Running another program (scripts/pg, pg_dump, pg_restore) the one way: no shell, so every argument
// is passed as it is (a connection string with spaces or quotes included). Blocking.
#include <string>
#include <vector>

namespace spectra {

enum class Capture { standard_output, standard_error };

// Runs args[0] (found on PATH) with the rest as its arguments and waits. Answers what it wrote to the
// captured stream (trailing newlines removed; the other stream is the caller's own). Throws
// std::runtime_error when it cannot start or does not exit 0, with the end of what it wrote to
// standard error when that is the stream captured.
std::string run_program(const std::vector<std::string>& args, Capture capture);

}  // namespace spectra
