#pragma once
// The one error type of the codebase: a neutral code, a message for the client, a message for the log.
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spectra {

enum class ErrorCode {
  bad_request,         // 400 malformed JSON or parameters
  unauthorized,        // 401 no, invalid or expired credentials
  forbidden,           // 403 role or scope does not allow it
  not_found,           // 404 absent, deleted, or another organization's
  method_not_allowed,  // 405
  conflict,            // 409 state conflict
  request_timeout,     // 408
  payload_too_large,   // 413
  headers_too_large,   // 431
  unsupported_media,   // 415
  unprocessable,       // 422 well-formed but invalid values
  too_many_requests,   // 429
  internal,            // 500
  unavailable,         // 503 database unavailable, pool exhausted
  insufficient_storage,  // 507 the file store is full
};

struct FieldError {
  std::string field;
  std::string message;
};

// The most field errors one answer lists; the rest are only counted ("errors_truncated"), so that an
// answer is never much larger than its request.
inline constexpr std::size_t max_field_errors = 100;

class ApiError : public std::runtime_error {
 public:
  ApiError(ErrorCode code, std::string detail, std::string log_detail = {})
      : std::runtime_error(detail), code_(code), detail_(std::move(detail)), log_detail_(std::move(log_detail)) {}

  ErrorCode code() const noexcept { return code_; }
  const std::string& detail() const noexcept { return detail_; }
  // What goes to the log only (SQL messages, internals); never to the client.
  const std::string& log_detail() const noexcept { return log_detail_; }
  // At most max_field_errors; field_errors_truncated() counts those added past it.
  const std::vector<FieldError>& field_errors() const noexcept { return fields_; }
  std::size_t field_errors_truncated() const noexcept { return truncated_; }
  ApiError& with_field(std::string field, std::string message) {
    if (fields_.size() < max_field_errors)
      fields_.push_back({std::move(field), std::move(message)});
    else
      ++truncated_;
    return *this;
  }
  // Counts n more field errors without listing them.
  ApiError& with_truncated(std::size_t n) {
    truncated_ += n;
    return *this;
  }
  // Extra response headers (Allow, Retry-After, WWW-Authenticate).
  const std::vector<std::pair<std::string, std::string>>& headers() const noexcept { return headers_; }
  ApiError& with_header(std::string name, std::string value) {
    headers_.emplace_back(std::move(name), std::move(value));
    return *this;
  }

 private:
  ErrorCode code_;
  std::string detail_;
  std::string log_detail_;
  std::vector<FieldError> fields_;
  std::size_t truncated_ = 0;
  std::vector<std::pair<std::string, std::string>> headers_;
};

// The one map from error codes to HTTP status codes.
unsigned http_status(ErrorCode code) noexcept;
std::string_view status_title(unsigned status) noexcept;

// The one SQLSTATE → error code table (PostgREST's pgErrorStatus, trimmed to what we raise).
ErrorCode error_code_for_sqlstate(std::string_view sqlstate) noexcept;

// Shorthands for the common cases.
ApiError bad_request(std::string detail);
ApiError unauthorized(std::string detail = "Missing or invalid credentials");
ApiError forbidden(std::string detail = "Your role does not allow this action");
ApiError not_found(std::string detail = "Not found");
ApiError conflict(std::string detail);
ApiError unprocessable(std::string detail);
ApiError unavailable(std::string detail = "The database is unavailable", std::string log_detail = {});

}  // namespace spectra
