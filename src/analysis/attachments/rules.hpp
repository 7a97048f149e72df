#pragma once
// What an upload may be, as plain functions unit-tested without a socket: the allow-list of types,
// each recognized by the file's own leading bytes (a PNG that is really an executable is refused
// whatever it is called), and a filename that is safe to store and to send back.
#include <optional>
#include <string>
#include <string_view>

namespace spectra::attachments {

// The allowed types, by the content type an upload declares (parameters such as charset ignored):
// text/csv, text/tab-separated-values, text/plain, application/json, image/png, image/jpeg, application/pdf,
// application/x-hdf5. nullopt: not allowed.
std::optional<std::string> allowed_type(std::string_view declared_content_type);

// Whether `bytes` are what `type` (an allowed type) says: PNG, JPEG, PDF and HDF5 by their signatures;
// JSON by parsing; CSV and text as UTF-8 without NUL or other control characters than tab, CR, LF
// and form feed.
bool content_matches(std::string_view type, std::string_view bytes);

// A filename safe to store and to put in Content-Disposition: its last path segment, without control
// characters, quotes, backslashes or a leading dot, valid UTF-8, at most 200 bytes (keeping the
// extension); "file" when nothing is left.
std::string sanitize_filename(std::string_view name);

}  // namespace spectra::attachments
