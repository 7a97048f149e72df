#pragma once
// Reading a JSON request body: 400 for malformed JSON, 422 for unknown fields and invalid values, with
// every field's problem listed at once.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/error.hpp"
#include "platform/http/message.hpp"

namespace spectra {

class JsonBody {
 public:
  // An empty body reads as {} when allow_empty.
  static JsonBody parse(const http::Request& req, bool allow_empty = false);
  explicit JsonBody(boost::json::object o) : obj_(std::move(o)) {}

  // Refuses fields outside the list ("extra_metadata" must be listed to be accepted).
  JsonBody& allow_only(std::initializer_list<std::string_view> fields);
  bool has(std::string_view field) const;

  std::string required_string(std::string_view field, std::size_t max_len = 500);
  std::optional<std::string> optional_string(std::string_view field, std::size_t max_len = 500);
  std::optional<bool> optional_bool(std::string_view field);
  std::optional<std::string> optional_timestamp(std::string_view field);  // RFC 3339
  std::vector<std::string> string_list(std::string_view field, bool required, std::size_t max_items = 100);
  std::string object_json(std::string_view field);  // "{}" when absent; 422 when not an object
  std::optional<std::string> optional_uuid(std::string_view field);
  std::string required_uuid(std::string_view field);
  // One of the allowed values.
  std::optional<std::string> optional_enum(std::string_view field, std::initializer_list<std::string_view> values);
  std::string required_enum(std::string_view field, std::initializer_list<std::string_view> values);

  void fail(std::string_view field, std::string message);
  // Throws 422 listing every field problem found so far.
  void finish() const;
  const boost::json::object& object() const noexcept { return obj_; }

 private:
  const boost::json::value* get(std::string_view field) const;
  boost::json::object obj_;
  std::vector<FieldError> errors_;
};

bool is_rfc3339(std::string_view s) noexcept;

}  // namespace spectra
