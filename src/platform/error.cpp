#include "platform/error.hpp"

namespace spectra {

unsigned http_status(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::bad_request: return 400;
    case ErrorCode::unauthorized: return 401;
    case ErrorCode::forbidden: return 403;
    case ErrorCode::not_found: return 404;
    case ErrorCode::method_not_allowed: return 405;
    case ErrorCode::conflict: return 409;
    case ErrorCode::request_timeout: return 408;
    case ErrorCode::payload_too_large: return 413;
    case ErrorCode::headers_too_large: return 431;
    case ErrorCode::unsupported_media: return 415;
    case ErrorCode::unprocessable: return 422;
    case ErrorCode::too_many_requests: return 429;
    case ErrorCode::internal: return 500;
    case ErrorCode::unavailable: return 503;
    case ErrorCode::insufficient_storage: return 507;
  }
  return 500;
}

std::string_view status_title(unsigned status) noexcept {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 507: return "Insufficient Storage";
    default: return "Error";
  }
}

ErrorCode error_code_for_sqlstate(std::string_view s) noexcept {
  if (s.size() != 5) return ErrorCode::internal;
  const auto cls = s.substr(0, 2);
  if (s == "23505" || s == "23P01" || s == "40001" || s == "40P01" || s == "55P03" || s == "55000")
    return ErrorCode::conflict;                                  // unique, exclusion, serialization, lock
  if (s == "23502" || s == "23503" || s == "23514" || cls == "22" || s == "54000")
    return ErrorCode::unprocessable;                             // not null, bad reference, check, any data exception
  if (s == "28000" || s == "28P01") return ErrorCode::unauthorized;  // the caller is no longer allowed in
  if (s == "42501") return ErrorCode::forbidden;                     // insufficient privilege (RLS WITH CHECK)
  if (s == "P0002") return ErrorCode::not_found;                     // no_data_found from a function
  if (cls == "08" || s == "57P01" || s == "57P02" || s == "57P03" || s == "53300" || s == "53000")
    return ErrorCode::unavailable;                               // connection gone, shutdown, too many conns
  if (s == "57014") return ErrorCode::unavailable;               // statement timeout / cancel
  return ErrorCode::internal;
}

ApiError bad_request(std::string d) { return ApiError(ErrorCode::bad_request, std::move(d)); }
ApiError unauthorized(std::string d) {
  return std::move(ApiError(ErrorCode::unauthorized, std::move(d)).with_header("WWW-Authenticate", "Bearer"));
}
ApiError forbidden(std::string d) { return ApiError(ErrorCode::forbidden, std::move(d)); }
ApiError not_found(std::string d) { return ApiError(ErrorCode::not_found, std::move(d)); }
ApiError conflict(std::string d) { return ApiError(ErrorCode::conflict, std::move(d)); }
ApiError unprocessable(std::string d) { return ApiError(ErrorCode::unprocessable, std::move(d)); }
ApiError unavailable(std::string d, std::string log) {
  return ApiError(ErrorCode::unavailable, std::move(d), std::move(log));
}

}  // namespace spectra
