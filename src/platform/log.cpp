#include "platform/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <cstdio>
#include <ctime>

#include "platform/config.hpp"

namespace spectra {
namespace {

// %J: the whole record as one JSON object.
class JsonRecord final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    namespace json = boost::json;
    const std::string_view text(msg.payload.data(), msg.payload.size());
    json::object out;
    const auto since_epoch = msg.time.time_since_epoch();
    const std::time_t secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count() % 1000;
    std::tm utc{};
    gmtime_r(&secs, &utc);
    char stamp[96];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                  utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));
    out["time"] = stamp;
    out["level"] = spdlog::level::to_string_view(msg.level).data();
    boost::system::error_code ec;
    json::value parsed;
    if (!text.empty() && text.front() == '{') parsed = json::parse(text, ec);
    if (!ec && parsed.is_object()) {
      for (auto& kv : parsed.as_object()) out[kv.key()] = kv.value();
    } else {
      out["msg"] = text;
    }
    const std::string line = json::serialize(out);
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonRecord>(); }
};

}  // namespace

void apply_log_format(spdlog::logger& logger, const std::string& format) {
  if (format == "json") {
    auto f = std::make_unique<spdlog::pattern_formatter>();
    f->add_flag<JsonRecord>('J').set_pattern("%J");
    logger.set_formatter(std::move(f));
  } else {
    logger.set_formatter(
        std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc));
  }
}

void setup_logging(const Config& c) {
  auto logger = spdlog::stderr_color_mt("spectra");
  apply_log_format(*logger, c.log_format);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(c.log_level));
}

}  // namespace spectra
