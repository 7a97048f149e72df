#pragma once
// `spectra agent`: runs on an instrument's PC, watches the folder the instrument writes its files to,
// and imports each new file once into a run through the Analysis API (POST /api/v1/runs/{id}/import).
// What it sent is journaled in DIR/.spectra-agent/journal (agent/journal.hpp), so that a restart, a
// crash or an API that was away for a while never sends a file twice nor forgets one.
#include <string>

namespace spectra::agent {

struct Options {
  std::string api;                // the Analysis API's base URL, http:// or https:// (the system's CAs verify it)
  std::string api_key;            // SPECTRA_API_KEY: a key with results:write and runs:read (and to read the profile)
  std::string run_id;             // --run: every file goes to this run
  bool run_from_barcode = false;  // --run-from-barcode: the newest RUNNING run of the file name's barcode
  std::string profile_id;         // the import profile that reads the files
  std::string watch;              // the folder; its dot-files and subfolders are left alone
  bool once = false;              // send the files there now (once stable), wait for their outcome, exit
  double stable_seconds = 2;      // how long a file's size and mtime must stay unchanged before it is sent
};

// Runs until SIGINT or SIGTERM (or, with `once`, until the files present at start have an outcome) and
// answers the process's exit code: 0; 1 when a file was refused in a run with `once`, or the journal
// cannot be written; 2 for a usage error (no key, a bad URL, no such folder, an unknown run or profile).
int run(const Options& options);

}  // namespace spectra::agent
