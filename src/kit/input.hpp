#pragma once
// Declared inputs: a route's body, query string or path is a plain struct whose fields are declared
// once (name, type, required, nullable, bounds, enum, pattern, length). From that one declaration
// come the validation (every problem at once), the typed values the handler reads, and the JSON
// Schema in /openapi.json.
//
//   struct NewThing {
//     std::string name;
//     std::optional<std::int64_t> count;
//     std::string extra_metadata = "{}";
//     static kit::Input<NewThing> input() {
//       return {"NewThing", {kit::field("name", &NewThing::name).max_length(200),
//                            kit::field("count", &NewThing::count).min(0).max(100),
//                            kit::field("extra_metadata", &NewThing::extra_metadata).object()}};
//     }
//   };
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "platform/error.hpp"

namespace spectra::kit {

enum class Kind { string, uuid, timestamp, integer, number, boolean, object, string_list, object_list };

// A field that may be set to null explicitly (PATCH): `present` tells absent from null.
template <class T>
struct Nullable {
  bool present = false;
  std::optional<T> value;
};

// What one field accepts; plain data, also the source of its JSON Schema.
// The most markdown one document may hold, in bytes of UTF-8; and how large a JSON body carrying one
// may be (a control character is six bytes in JSON), so that an oversized document is a 422 naming its
// field rather than a 413. A body type declares `max_body_bytes = markdown_body_limit` (route.hpp).
inline constexpr std::size_t max_markdown_bytes = 1 << 20;
inline constexpr std::size_t markdown_body_limit = 8 << 20;

struct FieldSpec {
  std::string name;
  Kind kind = Kind::string;
  bool required = false;
  bool nullable = false;
  bool not_blank = false;
  bool multiline = false;  // may hold line breaks and tabs; other control characters never
  std::optional<double> minimum, maximum;
  std::vector<std::string> one_of;  // strings (or list items) must be one of these
  std::string pattern;              // ECMAScript, whole value
  std::size_t max_length = 500;     // characters of a string; items of a list
  std::string format;               // JSON Schema "format" (email, ...)
  std::string description;
  const std::vector<FieldSpec>* fields = nullptr;  // a nested object's own declaration
};

using Value = std::variant<std::monostate, bool, std::int64_t, double, std::string, std::vector<std::string>>;

template <class T>
class Input;
template <class T>
const Input<T>& input_of();

// The problems found in one input: each names its field. The first max_field_errors are kept, the
// rest counted, however many an input holds (20,000 unknown fields cost a count, not megabytes).
class Problems {
 public:
  void add(std::string field, std::string message) {
    if (list_.size() < max_field_errors)
      list_.push_back({std::move(field), std::move(message)});
    else
      ++truncated_;
  }
  bool empty() const noexcept { return list_.empty(); }
  bool has(std::string_view field) const noexcept;
  // 422 (bodies) or 400 (query strings) listing the problems; nothing when there is none.
  void raise_if_any(ErrorCode code) const;

 private:
  std::vector<FieldError> list_;
  std::size_t truncated_ = 0;
};

// Calls f(index, item) for each item of a JSON array (values are boost::json::value, hidden from this
// header); false when it is not an array.
bool visit_items(const void* json_value, const std::function<void(std::size_t, const void*)>& f);

namespace detail {
template <class M>
struct Slot;  // how a decoded Value is stored into a member of type M, and the member's default kind
template <>
struct Slot<std::string> {
  static constexpr Kind kind = Kind::string;
  static constexpr bool optional = false;
  static void set(std::string& m, Value&& v) { m = std::get<std::string>(std::move(v)); }
};
template <>
struct Slot<bool> {
  static constexpr Kind kind = Kind::boolean;
  static constexpr bool optional = false;
  static void set(bool& m, Value&& v) { m = std::get<bool>(v); }
};
template <>
struct Slot<std::int64_t> {
  static constexpr Kind kind = Kind::integer;
  static constexpr bool optional = false;
  static void set(std::int64_t& m, Value&& v) { m = std::get<std::int64_t>(v); }
};
template <>
struct Slot<int> {
  static constexpr Kind kind = Kind::integer;
  static constexpr bool optional = false;
  static void set(int& m, Value&& v) { m = static_cast<int>(std::get<std::int64_t>(v)); }
};
template <>
struct Slot<double> {
  static constexpr Kind kind = Kind::number;
  static constexpr bool optional = false;
  static void set(double& m, Value&& v) { m = std::get<double>(v); }
};
template <>
struct Slot<std::vector<std::string>> {
  static constexpr Kind kind = Kind::string_list;
  static constexpr bool optional = false;
  static void set(std::vector<std::string>& m, Value&& v) { m = std::get<std::vector<std::string>>(std::move(v)); }
};
template <class T>
struct Slot<std::optional<T>> {
  static constexpr Kind kind = Slot<T>::kind;
  static constexpr bool optional = true;
  static void set(std::optional<T>& m, Value&& v) {
    if (std::holds_alternative<std::monostate>(v)) return m.reset();
    Slot<T>::set(m.emplace(), std::move(v));
  }
};
template <class T>
struct Slot<Nullable<T>> {
  static constexpr Kind kind = Slot<T>::kind;
  static constexpr bool optional = true;
  static void set(Nullable<T>& m, Value&& v) {
    m.present = true;
    if (std::holds_alternative<std::monostate>(v)) return m.value.reset();
    Slot<T>::set(m.value.emplace(), std::move(v));
  }
};
template <class T>
inline constexpr bool is_nullable_v = false;
template <class T>
inline constexpr bool is_nullable_v<Nullable<T>> = true;
}  // namespace detail

// One field of T, with its rules. Built by field() and refined by the calls below.
template <class T>
struct Field {
  FieldSpec spec;
  std::function<void(T&, Value&&)> store;
  std::function<std::optional<std::string>(const Value&)> check;  // extra rule: a message or nothing
  // A nested object (a member whose type declares its own input): decodes straight into T.
  std::function<void(T&, const void* json_value, Problems&, const std::string& prefix, const FieldSpec&)> nested;

  Field uuid() const { return with([](FieldSpec& s) { s.kind = Kind::uuid; }); }
  Field timestamp() const { return with([](FieldSpec& s) { s.kind = Kind::timestamp; }); }
  // A JSON object, kept as its text for `$n::jsonb`; optional (a std::string member keeps its default,
  // say "{}").
  Field object() const {
    return with([](FieldSpec& s) {
      s.kind = Kind::object;
      s.required = false;
      s.not_blank = false;
    });
  }
  Field max_length(std::size_t n) const { return with([n](FieldSpec& s) { s.max_length = n; }); }
  Field min(double v) const { return with([v](FieldSpec& s) { s.minimum = v; }); }
  Field max(double v) const { return with([v](FieldSpec& s) { s.maximum = v; }); }
  Field pattern(std::string re) const { return with([&re](FieldSpec& s) { s.pattern = re; }); }
  Field format(std::string f) const { return with([&f](FieldSpec& s) { s.format = f; }); }
  Field describe(std::string d) const { return with([&d](FieldSpec& s) { s.description = d; }); }
  Field not_blank() const { return with([](FieldSpec& s) { s.not_blank = true; }); }
  // Text that may hold line breaks and tabs (notes, descriptions); a string refuses them otherwise.
  Field multiline() const { return with([](FieldSpec& s) { s.multiline = true; }); }
  // A markdown document (an SOP, a notebook entry): multi-line, at most max_markdown_bytes of UTF-8.
  Field markdown() const {
    return max_length(max_markdown_bytes).multiline().rule([](const std::string& s) -> std::optional<std::string> {
      if (s.size() > max_markdown_bytes) return "must be at most 1 MiB (1,048,576 bytes) of UTF-8";
      return std::nullopt;
    });
  }
  // A non-optional member that may be absent (it keeps the struct's default).
  Field or_default() const { return with([](FieldSpec& s) { s.required = false; }); }
  // A member that has a default (an object kept as text) but must be given all the same.
  Field required() const { return with([](FieldSpec& s) { s.required = true; }); }
  template <class Range>
  Field one_of(const Range& values) const {
    return with([&values](FieldSpec& s) { s.one_of.assign(std::begin(values), std::end(values)); });
  }
  Field one_of(std::initializer_list<std::string_view> values) const {
    return with([&values](FieldSpec& s) { s.one_of.assign(values.begin(), values.end()); });
  }
  // An extra rule on the decoded value (a string for string kinds): returns the problem, if any.
  Field rule(std::function<std::optional<std::string>(const std::string&)> f) const {
    Field c = *this;
    c.check = [f = std::move(f)](const Value& v) -> std::optional<std::string> {
      if (const auto* s = std::get_if<std::string>(&v)) return f(*s);
      return std::nullopt;
    };
    return c;
  }

 private:
  template <class F>
  Field with(F f) const {
    Field c = *this;
    f(c.spec);
    return c;
  }
};

template <class M>
concept Declared = requires { M::input(); };

// A member whose type declares its own input: a nested object, its problems named "outer.inner".
template <class T, Declared M>
Field<T> field(std::string_view name, std::optional<M> T::*member) {
  Field<T> f;
  f.spec.name = std::string(name);
  f.spec.kind = Kind::object;
  f.spec.fields = &input_of<M>().specs();
  f.nested = [member](T& t, const void* value, Problems& problems, const std::string& prefix, const FieldSpec&) {
    input_of<M>().decode_members(value, (t.*member).emplace(), problems, prefix);
  };
  return f;
}

// A list of nested objects (a batch): each item decoded by M's declaration, its problems named
// "outer[i].inner"; at most max_length items (500 unless the field says).
template <class T, Declared M>
Field<T> field(std::string_view name, std::optional<std::vector<M>> T::*member) {
  Field<T> f;
  f.spec.name = std::string(name);
  f.spec.kind = Kind::object_list;
  f.spec.fields = &input_of<M>().specs();
  f.nested = [member](T& t, const void* value, Problems& problems, const std::string& prefix, const FieldSpec& spec) {
    auto& items = (t.*member).emplace();
    const std::string name = prefix + spec.name;
    std::size_t seen = 0;
    const bool is_list = visit_items(value, [&](std::size_t i, const void* item) {
      ++seen;
      if (i < spec.max_length)
        input_of<M>().decode_members(item, items.emplace_back(), problems, name + "[" + std::to_string(i) + "].");
    });
    if (!is_list) problems.add(name, "must be a list of objects");
    else if (seen > spec.max_length) problems.add(name, "must have at most " + std::to_string(spec.max_length) + " items");
  };
  return f;
}

template <class T, class M>
Field<T> field(std::string_view name, M T::*member) {
  Field<T> f;
  f.spec.name = std::string(name);
  f.spec.kind = detail::Slot<M>::kind;
  f.spec.required = !detail::Slot<M>::optional;
  f.spec.nullable = detail::is_nullable_v<M>;
  f.spec.not_blank = f.spec.required && detail::Slot<M>::kind == Kind::string;
  f.store = [member](T& t, Value&& v) { detail::Slot<M>::set(t.*member, std::move(v)); };
  return f;
}

// Where an input's text comes from; it decides what a malformed value answers.
enum class Source { body, query, path };

// The decoders: a JSON value or a text (query, path) → a Value, or a problem message.
std::optional<std::string> decode_json(const FieldSpec& spec, const void* json_value, Value& out);
std::optional<std::string> decode_text(const FieldSpec& spec, std::string_view text, Value& out);
// Checks a spec when its input is declared (a bad pattern is a programming error, found at start-up).
void check_spec(const FieldSpec& spec);
// Parses a JSON request body (400 unless it is an object; an empty body is {} when allow_empty) and
// calls f with it; values are boost::json::value, hidden from this header.
void visit_json_object(std::string_view body, bool allow_empty, const std::function<void(const void*)>& f);
// Calls f(field, value) for each member of a JSON value; false when it is not an object.
bool visit_members(const void* json_value, const std::function<void(std::string_view, const void*)>& f);
bool is_null(const void* json_value);

// The declaration of an input struct T: its fields, and rules across fields.
template <class T>
class Input {
 public:
  Input(std::string name, std::vector<Field<T>> fields) : name_(std::move(name)), fields_(std::move(fields)) {
    for (const auto& f : fields_) {
      check_spec(f.spec);
      specs_.push_back(f.spec);
    }
  }
  // A rule across fields, run after every field decoded without a problem of its own.
  Input& also(std::function<void(const T&, Problems&)> rule) {
    rules_.push_back(std::move(rule));
    return *this;
  }
  const std::string& name() const noexcept { return name_; }
  const std::vector<FieldSpec>& specs() const noexcept { return specs_; }

  // A JSON object body → T; 422 listing every problem (unknown fields included).
  T from_json(std::string_view body, bool allow_empty = false) const {
    T out{};
    Problems problems;
    visit_json_object(body, allow_empty, [&](const void* object) { decode_members(object, out, problems, ""); });
    if (!problems.empty()) problems.raise_if_any(ErrorCode::unprocessable);
    for (const auto& r : rules_) r(out, problems);
    problems.raise_if_any(ErrorCode::unprocessable);
    return out;
  }

  // The members of a JSON value into out; problems are named prefix + field. Not an object: one
  // problem for the whole (named by prefix without its dot).
  void decode_members(const void* json_value, T& out, Problems& problems, const std::string& prefix) const {
    std::vector<bool> seen(fields_.size(), false);
    const bool is_object = visit_members(json_value, [&](std::string_view key, const void* value) {
      for (std::size_t i = 0; i < fields_.size(); ++i) {
        if (fields_[i].spec.name != key) continue;
        seen[i] = true;
        if (fields_[i].nested && !is_null(value)) {
          fields_[i].nested(out, value, problems, fields_[i].spec.kind == Kind::object_list ? prefix : prefix + fields_[i].spec.name + ".",
                            fields_[i].spec);
          return;
        }
        Value v;
        auto problem = decode_json(fields_[i].spec, value, v);
        decode(fields_[i], std::move(problem), std::move(v), out, problems, prefix);
        return;
      }
      problems.add(prefix + std::string(key), "unknown field");
    });
    if (!is_object) return problems.add(prefix.substr(0, prefix.size() - 1), "must be a JSON object");
    for (std::size_t i = 0; i < fields_.size(); ++i)
      if (!seen[i] && fields_[i].spec.required) problems.add(prefix + fields_[i].spec.name, "is required");
  }

  // Named texts (query parameters or path segments) → T. Unknown names are the caller's concern.
  template <class Pairs>
  T from_text(const Pairs& pairs, ErrorCode code) const {
    T out{};
    Problems problems;
    std::vector<bool> seen(fields_.size(), false);
    for (const auto& [key, text] : pairs) {
      for (std::size_t i = 0; i < fields_.size(); ++i) {
        if (fields_[i].spec.name != key) continue;
        if (seen[i]) {
          problems.add(std::string(key), "is given more than once");
          break;
        }
        seen[i] = true;
        if (text.empty() && !fields_[i].spec.required) break;  // ?x= means no filter
        Value v;
        auto problem = decode_text(fields_[i].spec, text, v);
        decode(fields_[i], std::move(problem), std::move(v), out, problems, "");
        break;
      }
    }
    finish(out, seen, problems, code);
    return out;
  }

 private:
  static void decode(const Field<T>& f, std::optional<std::string> problem, Value&& v, T& out, Problems& problems,
                     const std::string& prefix) {
    if (!problem && f.check) problem = f.check(v);
    if (problem) return problems.add(prefix + f.spec.name, std::move(*problem));
    // null reads as absent, except where a field is declared nullable (a PATCH that clears it).
    if (std::holds_alternative<std::monostate>(v) && !f.spec.nullable) return;
    f.store(out, std::move(v));
  }
  void finish(T& out, const std::vector<bool>& seen, Problems& problems, ErrorCode code) const {
    for (std::size_t i = 0; i < fields_.size(); ++i)
      if (!seen[i] && fields_[i].spec.required) problems.add(fields_[i].spec.name, "is required");
    if (problems.empty())
      for (const auto& r : rules_) r(out, problems);
    problems.raise_if_any(code);
  }

  std::string name_;
  std::vector<Field<T>> fields_;
  std::vector<FieldSpec> specs_;
  std::vector<std::function<void(const T&, Problems&)>> rules_;
};

// The declaration of T, built once (T::input()).
template <class T>
const Input<T>& input_of() {
  static const Input<T> decl = T::input();
  return decl;
}

// A list of ids (a body's sample_ids): each a UUID, none twice (whatever its case), each problem named
// "field[i]".
void check_id_list(std::string_view field, const std::vector<std::string>& ids, Problems& problems);

// "a\%b" for a LIKE pattern that matches the text literally.
std::string escape_like(std::string_view s);
// RFC 3339 with a real date, a time within the day and an offset within ±15:59 (what PostgreSQL takes).
bool is_rfc3339(std::string_view s) noexcept;

}  // namespace spectra::kit
