// libFuzzer: a list's page cursor as a client sends it back (?cursor=), for each type of sort key.
// It is either refused with a 400 naming the field "cursor" or decoded to a value the key's SQL type
// reads and a UUID; a decoded cursor encodes back to the same text's meaning.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "kit/cursor.hpp"
#include "platform/crypto.hpp"
#include "platform/error.hpp"

using namespace spectra;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static constexpr std::string_view types[] = {"timestamptz", "integer", "bigint", "numeric", "date", "text"};
  // Both as sent and as a cursor this server could have issued around the fuzzer's bytes.
  const std::string wrapped = crypto::base64url_encode(std::string(text));
  for (const std::string_view candidate : {text, std::string_view(wrapped)}) {
    for (const auto type : types) {
      try {
        const kit::Cursor c = kit::decode_cursor(candidate, "-created_at", type);
        if (c.sort != "-created_at" || !crypto::is_uuid(c.id)) std::abort();
        const kit::Cursor again = kit::decode_cursor(kit::encode_cursor(c), "-created_at", type);
        if (again.value != c.value || again.id != c.id) std::abort();
      } catch (const ApiError& e) {
        if (e.code() != ErrorCode::bad_request) std::abort();
      }
    }
  }
  return 0;
}
