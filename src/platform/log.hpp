#pragma once
// Logging: text lines, or one JSON object per line (LOG_FORMAT=json) whose fields merge those of a
// message that is itself a JSON object (the access log) with time and level.
#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace spectra {

struct Config;

// Installs the default logger (standard error) with the configured level and format.
void setup_logging(const Config& config);
// Applies the format to a logger (used by setup_logging, and by tests with their own sink).
void apply_log_format(spdlog::logger& logger, const std::string& format);

}  // namespace spectra
