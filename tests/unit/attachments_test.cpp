// Attachments without a server: the allow-list of types and the content signatures, safe filenames,
// multipart/form-data bodies, the content-addressed store (in a temporary folder, and full on a small
// tmpfs) and the clamd client (against a fake clamd on a unix socket in a temporary folder).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <openssl/sha.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "analysis/attachments/rules.hpp"
#include "platform/clamd.hpp"
#include "platform/content_store.hpp"
#include "platform/crypto.hpp"
#include "platform/http/multipart.hpp"

using namespace spectra;
using namespace std::string_literals;
namespace fs = std::filesystem;

namespace {

// A strict UTF-8 validator (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF),
// written independently of the code under test.
bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return false;  // overlong
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;                                                   // surrogate
    if (cp > 0x10FFFF) return false;
    i += n;
  }
  return true;
}

// A fresh folder under the system's temporary folder, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("spectra-att-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char d : digest) {
    out.push_back(hex[d >> 4]);
    out.push_back(hex[d & 0xF]);
  }
  return out;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::size_t count_files(const fs::path& root) {
  std::size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (!e.is_directory()) ++n;
  return n;
}

const std::string kPng("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
const std::string kJpeg("\xFF\xD8\xFF\xE0\0\x10JFIF\0", 11);
const std::string kPdf = "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n";
const std::string kHdf5("\x89HDF\r\n\x1a\n\0\0\0\0\0\x08\x08\0", 16);
const std::string kElf = "\x7f"s + "ELF"s + std::string("\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0", 16);

const std::vector<std::string> kAllowed = {"text/csv",        "text/plain",      "application/json",  "image/png",
                                           "image/jpeg",      "application/pdf", "application/x-hdf5"};

}  // namespace

// ---------------------------------------------------------------------------------------------------
// allowed_type

TEST(AllowedType, AcceptsEachAllowedType) {
  for (const auto& t : kAllowed) EXPECT_EQ(attachments::allowed_type(t), t) << t;
}

TEST(AllowedType, IgnoresParametersCaseAndSpaces) {
  EXPECT_EQ(attachments::allowed_type("text/csv; charset=utf-8"), "text/csv");
  EXPECT_EQ(attachments::allowed_type("text/plain;charset=UTF-8"), "text/plain");
  EXPECT_EQ(attachments::allowed_type("application/json ; charset=utf-8"), "application/json");
  EXPECT_EQ(attachments::allowed_type("IMAGE/PNG"), "image/png");
  EXPECT_EQ(attachments::allowed_type("Application/PDF"), "application/pdf");
  EXPECT_EQ(attachments::allowed_type("  image/jpeg  "), "image/jpeg");
  EXPECT_EQ(attachments::allowed_type("Application/X-HDF5"), "application/x-hdf5");
}

TEST(AllowedType, RefusesOtherTypes) {
  for (const char* t : {"application/octet-stream", "text/html", "text/html; charset=utf-8", "image/svg+xml",
                        "application/x-msdownload", "", ";", "text", "text/", "image/png2", "xtext/csv",
                        "application/javascript", "image/gif", "text/csv-x"})
    EXPECT_EQ(attachments::allowed_type(t), std::nullopt) << '"' << t << '"';
}

// ---------------------------------------------------------------------------------------------------
// content_matches

TEST(ContentMatches, RecognizesRealSignatures) {
  EXPECT_TRUE(attachments::content_matches("image/png", kPng));
  EXPECT_TRUE(attachments::content_matches("image/png", kPng.substr(0, 8)));
  EXPECT_TRUE(attachments::content_matches("image/jpeg", kJpeg));
  EXPECT_TRUE(attachments::content_matches("image/jpeg", "\xFF\xD8\xFF"));
  EXPECT_TRUE(attachments::content_matches("application/pdf", kPdf));
  EXPECT_TRUE(attachments::content_matches("application/pdf", "%PDF-"));
  EXPECT_TRUE(attachments::content_matches("application/x-hdf5", kHdf5));
  EXPECT_TRUE(attachments::content_matches("application/x-hdf5", kHdf5.substr(0, 8)));
}

TEST(ContentMatches, RefusesTruncatedOrWrongSignatures) {
  EXPECT_FALSE(attachments::content_matches("image/png", kPng.substr(0, 7)));
  EXPECT_FALSE(attachments::content_matches("image/png", ""));
  EXPECT_FALSE(attachments::content_matches("image/jpeg", "\xFF\xD8"));
  EXPECT_FALSE(attachments::content_matches("image/jpeg", ""));
  EXPECT_FALSE(attachments::content_matches("application/pdf", "%PDF"));
  EXPECT_FALSE(attachments::content_matches("application/pdf", " %PDF-1.7"));
  EXPECT_FALSE(attachments::content_matches("application/x-hdf5", kHdf5.substr(0, 7)));
  // One type's signature declared as another.
  EXPECT_FALSE(attachments::content_matches("image/jpeg", kPng));
  EXPECT_FALSE(attachments::content_matches("image/png", kJpeg));
  EXPECT_FALSE(attachments::content_matches("image/png", kPdf));
  EXPECT_FALSE(attachments::content_matches("application/pdf", kHdf5));
  EXPECT_FALSE(attachments::content_matches("application/x-hdf5", kPng));
}

TEST(ContentMatches, RefusesAnExecutableWhateverItIsCalled) {
  for (const auto& t : kAllowed) EXPECT_FALSE(attachments::content_matches(t, kElf)) << t;
  // A Windows executable too.
  const std::string mz("MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0", 16);
  for (const auto& t : kAllowed) EXPECT_FALSE(attachments::content_matches(t, mz)) << t;
}

TEST(ContentMatches, RefusesTypesOutsideTheAllowList) {
  EXPECT_FALSE(attachments::content_matches("application/octet-stream", kElf));
  EXPECT_FALSE(attachments::content_matches("text/html", "<html></html>"));
  EXPECT_FALSE(attachments::content_matches("", "abc"));
}

TEST(ContentMatches, JsonByParsing) {
  EXPECT_TRUE(attachments::content_matches("application/json", R"({"a":[1,2.5,true,null],"b":"é 😀"})"));
  EXPECT_TRUE(attachments::content_matches("application/json", "[]"));
  EXPECT_TRUE(attachments::content_matches("application/json", " \r\n\t{ \"x\" : 1 }\n"));
  EXPECT_FALSE(attachments::content_matches("application/json", R"({"a":)"));
  EXPECT_FALSE(attachments::content_matches("application/json", "[1,2,]"));
  EXPECT_FALSE(attachments::content_matches("application/json", "{'a':1}"));
  EXPECT_FALSE(attachments::content_matches("application/json", "{} trailing"));
  EXPECT_FALSE(attachments::content_matches("application/json", ""));
  EXPECT_FALSE(attachments::content_matches("application/json", "not json"));
  EXPECT_FALSE(attachments::content_matches("application/json", "{\"a\":1}\0"s));
  EXPECT_FALSE(attachments::content_matches("application/json", kPng));
}

TEST(ContentMatches, TextAndCsvAcceptUtf8WithTabsAndLineBreaks) {
  for (const char* t : {"text/csv", "text/plain"}) {
    EXPECT_TRUE(attachments::content_matches(t, "a,b,c\r\n1,2,3\n")) << t;
    EXPECT_TRUE(attachments::content_matches(t, "name\tvalue\fpage 2\r\n")) << t;
    EXPECT_TRUE(attachments::content_matches(t, "température,°C\nCafé,25\n")) << t;
    EXPECT_TRUE(attachments::content_matches(t, "emoji 😀 ok, € sign, 中文\n")) << t;
    EXPECT_TRUE(attachments::content_matches(t, "\xEF\xBB\xBFid,value\n")) << t;  // a byte-order mark
  }
}

TEST(ContentMatches, TextAndCsvRefuseControlCharactersAndInvalidUtf8) {
  for (const char* t : {"text/csv", "text/plain"}) {
    EXPECT_FALSE(attachments::content_matches(t, "a,b\0c\n"s)) << t << " NUL";
    EXPECT_FALSE(attachments::content_matches(t, "a,b\x01c\n")) << t << " \\x01";
    EXPECT_FALSE(attachments::content_matches(t, "a\x1b[31mred\n")) << t << " ESC";
    EXPECT_FALSE(attachments::content_matches(t, "a\x7f")) << t << " DEL";
    EXPECT_FALSE(attachments::content_matches(t, "caf\xC3")) << t << " lone lead byte at the end";
    EXPECT_FALSE(attachments::content_matches(t, "caf\xC3x")) << t << " lone lead byte";
    EXPECT_FALSE(attachments::content_matches(t, "a\xC0\xAF" "b")) << t << " overlong /";
    EXPECT_FALSE(attachments::content_matches(t, "a\xC1\xBF" "b")) << t << " overlong";
    EXPECT_FALSE(attachments::content_matches(t, "a\x80" "b")) << t << " lone continuation byte";
    EXPECT_FALSE(attachments::content_matches(t, "a\xFF\xFE" "b")) << t << " FF FE";
    EXPECT_FALSE(attachments::content_matches(t, "a\xF8\x88\x80\x80\x80")) << t << " 5-byte form";
    EXPECT_FALSE(attachments::content_matches(t, "\xE2\x82")) << t << " truncated 3-byte";
    EXPECT_FALSE(attachments::content_matches(t, kPng)) << t << " a PNG";
    EXPECT_FALSE(attachments::content_matches(t, kPdf + std::string("\0\x01\x02", 3))) << t << " a PDF";
  }
}

// RFC 3629 also excludes overlong 3- and 4-byte forms, UTF-16 surrogates and code points above
// U+10FFFF; the header promises "UTF-8" for text and "valid UTF-8" for filenames.
TEST(ContentMatches, TextRefusesOverlongSurrogateAndOutOfRangeSequences) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a\xE0\x80\xAF" "b", "overlong 3-byte '/' (E0 80 AF)"},
      {"a\xF0\x80\x80\xAF" "b", "overlong 4-byte '/' (F0 80 80 AF)"},
      {"a\xED\xA0\x80" "b", "UTF-16 surrogate U+D800 (ED A0 80)"},
      {"a\xF4\x90\x80\x80" "b", "U+110000 (F4 90 80 80)"},
      {"a\xF5\x80\x80\x80" "b", "lead byte F5"},
  };
  for (const auto& [bytes, what] : cases) {
    ASSERT_FALSE(valid_utf8(bytes)) << what;  // the validator of this test agrees they are invalid
    EXPECT_FALSE(attachments::content_matches("text/plain", bytes)) << what;
    EXPECT_FALSE(attachments::content_matches("text/csv", bytes)) << what;
  }
}

// ---------------------------------------------------------------------------------------------------
// sanitize_filename

TEST(SanitizeFilename, KeepsOnlyTheLastPathSegment) {
  EXPECT_EQ(attachments::sanitize_filename("../../etc/passwd"), "passwd");
  EXPECT_EQ(attachments::sanitize_filename("C:\\Users\\x\\report.pdf"), "report.pdf");
  EXPECT_EQ(attachments::sanitize_filename("/abs/path/data.csv"), "data.csv");
  EXPECT_EQ(attachments::sanitize_filename("mixed/dir\\sub/name.txt"), "name.txt");
  EXPECT_EQ(attachments::sanitize_filename("a/b/"), "file");
  EXPECT_EQ(attachments::sanitize_filename(".."), "file");
  EXPECT_EQ(attachments::sanitize_filename("plain.png"), "plain.png");
}

TEST(SanitizeFilename, ReplacesQuotesSemicolonsAndControlCharacters) {
  const auto out = attachments::sanitize_filename("a\"b;c\x01" "d\re\nf\tg\x7fh.txt");
  EXPECT_EQ(out, "a_b_c_d_e_f_g_h.txt");
  for (char c : out) {
    EXPECT_NE(c, '"');
    EXPECT_NE(c, ';');
    EXPECT_NE(c, '\\');
    EXPECT_GE(static_cast<unsigned char>(c), 0x20);
  }
  EXPECT_EQ(attachments::sanitize_filename("x\"; filename=evil.exe"), "x__ filename=evil.exe");
  EXPECT_EQ(attachments::sanitize_filename("a\0b.txt"s), "a_b.txt");
}

TEST(SanitizeFilename, RemovesLeadingDotsAndFallsBackToFile) {
  EXPECT_EQ(attachments::sanitize_filename(".htaccess"), "htaccess");
  EXPECT_EQ(attachments::sanitize_filename("...hidden.csv"), "hidden.csv");
  EXPECT_EQ(attachments::sanitize_filename(" . .x"), "x");
  EXPECT_EQ(attachments::sanitize_filename(""), "file");
  EXPECT_EQ(attachments::sanitize_filename("."), "file");
  EXPECT_EQ(attachments::sanitize_filename("..."), "file");
  EXPECT_EQ(attachments::sanitize_filename("dir/.."), "file");
  EXPECT_EQ(attachments::sanitize_filename("   "), "file");
}

TEST(SanitizeFilename, KeepsUtf8AndDropsInvalidBytes) {
  EXPECT_EQ(attachments::sanitize_filename("café 😀.csv"), "café 😀.csv");
  EXPECT_EQ(attachments::sanitize_filename("re\xC3port\xFF.pdf"), "report.pdf");
  EXPECT_EQ(attachments::sanitize_filename("a\xC0\xAF" "b.txt"), "ab.txt");
  EXPECT_EQ(attachments::sanitize_filename("\x80\x80x.png"), "x.png");
  EXPECT_EQ(attachments::sanitize_filename("\xFF\xFE"), "file");
  EXPECT_TRUE(valid_utf8(attachments::sanitize_filename("mix\xE2\x82\xC3\xA9\xF0\x9F.txt")));
}

TEST(SanitizeFilename, ALongNameKeepsItsExtensionWithin200Bytes) {
  const std::string name = std::string(296, 'a') + ".pdf";
  ASSERT_EQ(name.size(), 300u);
  const auto out = attachments::sanitize_filename(name);
  EXPECT_LE(out.size(), 200u);
  EXPECT_GE(out.size(), 190u);
  EXPECT_TRUE(out.ends_with(".pdf")) << out;
  // Exactly 200 bytes is kept as it is.
  const std::string exact = std::string(196, 'b') + ".csv";
  EXPECT_EQ(attachments::sanitize_filename(exact), exact);
}

TEST(SanitizeFilename, ALongMultiByteNameIsCutOnACharacterBoundary) {
  // 3-byte characters: 100 × "€" + ".pdf" = 304 bytes; the last 200 bytes start inside a character.
  std::string euro;
  for (int i = 0; i < 100; ++i) euro += "€";
  euro += ".pdf";
  auto out = attachments::sanitize_filename(euro);
  EXPECT_LE(out.size(), 200u);
  EXPECT_TRUE(valid_utf8(out));
  EXPECT_TRUE(out.ends_with(".pdf")) << out;
  EXPECT_TRUE(out.starts_with("€"));

  // 4-byte characters, with each possible misalignment of the cut.
  for (int pad = 0; pad < 4; ++pad) {
    std::string emoji(static_cast<std::size_t>(pad), 'x');
    for (int i = 0; i < 80; ++i) emoji += "😀";
    emoji += ".json";
    out = attachments::sanitize_filename(emoji);
    EXPECT_LE(out.size(), 200u) << pad;
    EXPECT_TRUE(valid_utf8(out)) << pad;
    EXPECT_TRUE(out.ends_with(".json")) << pad;
  }

  // 2-byte characters.
  std::string e;
  for (int i = 0; i < 151; ++i) e += "é";
  e += ".txt";
  out = attachments::sanitize_filename(e);
  EXPECT_LE(out.size(), 200u);
  EXPECT_TRUE(valid_utf8(out));
  EXPECT_TRUE(out.ends_with(".txt"));
}

// The header promises no leading dot; the cut of a long name must not make one.
TEST(SanitizeFilename, ALongNameCutBeforeADotHasNoLeadingDot) {
  const std::string name = std::string(100, 'x') + "." + std::string(195, 'y') + ".pdf";
  ASSERT_EQ(name.size(), 300u);
  const auto out = attachments::sanitize_filename(name);
  EXPECT_LE(out.size(), 200u);
  EXPECT_TRUE(out.ends_with(".pdf"));
  EXPECT_FALSE(out.starts_with(".")) << out.substr(0, 10) << "…";
}

// The same strictness for filenames: what is not valid UTF-8 (RFC 3629) is dropped.
TEST(SanitizeFilename, OutputIsValidUtf8EvenForOverlongOrSurrogateSequences) {
  for (const std::string& name : {"a\xE0\x80\xAF" "b.txt"s, "a\xED\xA0\x80" "b.txt"s, "a\xF4\x90\x80\x80" "b.txt"s})
    EXPECT_TRUE(valid_utf8(attachments::sanitize_filename(name))) << attachments::sanitize_filename(name);
}

// ---------------------------------------------------------------------------------------------------
// multipart/form-data

TEST(Multipart, BoundaryOfAFormContentType) {
  EXPECT_EQ(http::multipart_boundary("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW"),
            "----WebKitFormBoundary7MA4YWxkTrZu0gW");
  EXPECT_EQ(http::multipart_boundary("multipart/form-data; boundary=\"a quoted:boundary\""), "a quoted:boundary");
  EXPECT_EQ(http::multipart_boundary("Multipart/Form-Data; charset=utf-8; BOUNDARY=\"xyz\""), "xyz");
  EXPECT_EQ(http::multipart_boundary("multipart/form-data;boundary=abc;charset=utf-8"), "abc");
}

TEST(Multipart, NoBoundaryWhenNotAForm) {
  EXPECT_EQ(http::multipart_boundary("application/json"), std::nullopt);
  EXPECT_EQ(http::multipart_boundary("text/plain; boundary=abc"), std::nullopt);
  EXPECT_EQ(http::multipart_boundary("multipart/mixed; boundary=abc"), std::nullopt);
  EXPECT_EQ(http::multipart_boundary("multipart/form-data"), std::nullopt);
  EXPECT_EQ(http::multipart_boundary("multipart/form-data; boundary="), std::nullopt);
  EXPECT_EQ(http::multipart_boundary("multipart/form-data; boundary=\"\""), std::nullopt);
  EXPECT_EQ(http::multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'b')), std::nullopt);
  EXPECT_EQ(http::multipart_boundary(""), std::nullopt);
}

TEST(Multipart, ParsesAFieldAndAFile) {
  // Binary data with CR LF, a NUL, and a partial delimiter inside.
  const std::string binary("\x89PNG\r\n\x1a\n\0\r\n\r\n--Xy\r\n--XyY\xff", 25);
  const std::string body = "preamble, ignored\r\n"
                           "--XyZ\r\n"
                           "Content-Disposition: form-data; name=\"title\"\r\n"
                           "\r\n"
                           "Spectrum of sample 12\r\n"
                           "--XyZ\r\n"
                           "content-disposition: form-data; name=\"file\"; filename=\"scan.png\"\r\n"
                           "Content-Type: image/png\r\n"
                           "\r\n" +
                           binary +
                           "\r\n"
                           "--XyZ--\r\n";
  const auto boundary = http::multipart_boundary("multipart/form-data; boundary=XyZ");
  ASSERT_EQ(boundary, "XyZ");
  const auto parts = http::parse_multipart(body, *boundary);
  ASSERT_TRUE(parts.has_value());
  ASSERT_EQ(parts->size(), 2u);

  EXPECT_EQ((*parts)[0].name, "title");
  EXPECT_EQ((*parts)[0].filename, std::nullopt);
  EXPECT_EQ((*parts)[0].content_type, "");
  EXPECT_EQ((*parts)[0].data, "Spectrum of sample 12");

  EXPECT_EQ((*parts)[1].name, "file");
  EXPECT_EQ((*parts)[1].filename, "scan.png");
  EXPECT_EQ((*parts)[1].content_type, "image/png");
  EXPECT_EQ(std::string((*parts)[1].data), binary);
  EXPECT_EQ((*parts)[1].data.size(), binary.size());
}

TEST(Multipart, EmptyPartsAndAnEmptyForm) {
  const std::string body =
      "--b\r\nContent-Disposition: form-data; name=\"empty\"\r\n\r\n\r\n"
      "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"\"\r\n\r\n\r\n--b--";
  const auto parts = http::parse_multipart(body, "b");
  ASSERT_TRUE(parts.has_value());
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].data, "");
  EXPECT_EQ((*parts)[1].filename, "");
  EXPECT_EQ((*parts)[1].data, "");

  const auto none = http::parse_multipart("--b--\r\n", "b");
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
}

TEST(Multipart, QuotedBoundaryFromTheContentType) {
  const auto boundary = http::multipart_boundary("multipart/form-data; boundary=\"=_part 1:2\"");
  ASSERT_EQ(boundary, "=_part 1:2");
  const std::string body =
      "--=_part 1:2\r\n"
      "Content-Disposition: form-data; name=\"note\"\r\n\r\n"
      "hello\r\n"
      "--=_part 1:2--\r\n";
  const auto parts = http::parse_multipart(body, *boundary);
  ASSERT_TRUE(parts.has_value());
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].name, "note");
  EXPECT_EQ((*parts)[0].data, "hello");
}

TEST(Multipart, RefusesMalformedBodies) {
  const std::string part = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue";
  // No closing delimiter at all.
  EXPECT_EQ(http::parse_multipart(part, "XyZ"), std::nullopt);
  EXPECT_EQ(http::parse_multipart(part + "\r\n", "XyZ"), std::nullopt);
  // A delimiter that does not close.
  EXPECT_EQ(http::parse_multipart(part + "\r\n--XyZ", "XyZ"), std::nullopt);
  EXPECT_EQ(http::parse_multipart(part + "\r\n--XyZ\r\n", "XyZ"), std::nullopt);
  // The closed one is fine.
  EXPECT_TRUE(http::parse_multipart(part + "\r\n--XyZ--", "XyZ").has_value());
  // Another boundary, no boundary, no headers end, no Content-Disposition, not form-data.
  EXPECT_EQ(http::parse_multipart(part + "\r\n--XyZ--", "Other"), std::nullopt);
  EXPECT_EQ(http::parse_multipart("", "XyZ"), std::nullopt);
  EXPECT_EQ(http::parse_multipart("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nvalue\r\n--XyZ--", "XyZ"),
            std::nullopt);
  EXPECT_EQ(http::parse_multipart("--XyZ\r\nContent-Type: text/plain\r\n\r\nvalue\r\n--XyZ--", "XyZ"), std::nullopt);
  EXPECT_EQ(http::parse_multipart("--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nv\r\n--XyZ--", "XyZ"),
            std::nullopt);
  EXPECT_EQ(http::parse_multipart("--XyZ\r\nno colon here\r\n\r\nv\r\n--XyZ--", "XyZ"), std::nullopt);
}

TEST(Multipart, FilenameWithAnEscapedQuoteAndASemicolon) {
  const std::string body =
      "--b\r\n"
      "Content-Disposition: form-data; name=\"file\"; filename=\"say \\\"hi\\\"; ok.txt\"\r\n"
      "Content-Type: text/plain\r\n\r\n"
      "hi\r\n"
      "--b--\r\n";
  const auto parts = http::parse_multipart(body, "b");
  ASSERT_TRUE(parts.has_value());
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].name, "file");
  EXPECT_EQ((*parts)[0].filename, "say \"hi\"; ok.txt");
  EXPECT_EQ((*parts)[0].content_type, "text/plain");
  EXPECT_EQ((*parts)[0].data, "hi");
  EXPECT_EQ(attachments::sanitize_filename(*(*parts)[0].filename), "say _hi__ ok.txt");
}

// ---------------------------------------------------------------------------------------------------
// ContentStore

TEST(ContentStore, PutStoresTheBytesUnderTheirSha256) {
  TempDir dir;
  const ContentStore store(dir.path() / "store");
  const std::string bytes = kPng + std::string("\0\r\n\xff payload", 12);
  const auto hex = store.put(bytes);
  EXPECT_EQ(hex, sha256_hex(bytes));
  ASSERT_EQ(hex.size(), 64u);

  const auto expected = dir.path() / "store" / hex.substr(0, 2) / hex.substr(2, 2) / hex;
  EXPECT_EQ(store.path_of(hex), expected);
  ASSERT_TRUE(fs::is_regular_file(expected));
  EXPECT_EQ(read_file(expected), bytes);
  EXPECT_EQ(count_files(dir.path()), 1u);

  // The same bytes again: the same digest, still one file and no temporary file left.
  EXPECT_EQ(store.put(bytes), hex);
  EXPECT_EQ(count_files(dir.path()), 1u);
  EXPECT_EQ(read_file(expected), bytes);

  // Other bytes: a second file.
  const std::string other = "id,value\n1,2\n";
  const auto hex2 = store.put(other);
  EXPECT_EQ(hex2, sha256_hex(other));
  EXPECT_NE(hex2, hex);
  EXPECT_EQ(count_files(dir.path()), 2u);
  for (const auto& e : fs::recursive_directory_iterator(dir.path()))
    if (!e.is_directory()) {
      EXPECT_FALSE(e.path().filename().string().starts_with(".tmp")) << e.path();
    }
}

TEST(ContentStore, ANewFileAndEveryFolderMadeForItAreDurableBeforePutReturns) {
  TempDir dir;
  std::vector<fs::path> synced;
  const ContentStore store(dir.path() / "store", [&](const fs::path& p) { synced.push_back(p); });
  const std::string bytes = "wafer,thickness_nm\nW1,101.2\n";
  const auto hex = store.put(bytes);
  const auto root = dir.path() / "store", ab = root / hex.substr(0, 2), cd = ab / hex.substr(2, 2);
  // Each new folder's entry in its parent (store/ in the temporary folder, ab/ in store/, cd/ in ab/),
  // then the file's bytes (as its temporary), then the file's name in its folder.
  ASSERT_EQ(synced.size(), 5u);
  EXPECT_EQ(synced[0], dir.path());
  EXPECT_EQ(synced[1], root);
  EXPECT_EQ(synced[2], ab);
  EXPECT_EQ(synced[3].parent_path(), cd);
  EXPECT_TRUE(synced[3].filename().string().starts_with(".tmp-")) << synced[3];
  EXPECT_EQ(synced[4], cd);
  // Bytes that are there already: nothing to make durable again. New bytes in the same folders: the
  // file and its folder only.
  synced.clear();
  store.put(bytes);
  EXPECT_TRUE(synced.empty());
  std::string other;  // bytes whose digest shares the first four hex digits (about 65,536 tries)
  for (int i = 0; i < 2000000; ++i) {
    other = "other-" + std::to_string(i);
    if (crypto::to_hex(crypto::sha256(other)).substr(0, 4) == hex.substr(0, 4)) break;
  }
  ASSERT_EQ(crypto::to_hex(crypto::sha256(other)).substr(0, 4), hex.substr(0, 4));
  store.put(other);
  ASSERT_EQ(synced.size(), 2u);
  EXPECT_EQ(synced[0].parent_path(), cd);
  EXPECT_EQ(synced[1], cd);
}

TEST(ContentStore, EmptyAndLargeContents) {
  TempDir dir;
  const ContentStore store(dir.path());
  const auto empty = store.put("");
  EXPECT_EQ(empty, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(store.get(empty), "");

  std::string big(3 * 1024 * 1024 + 17, '\0');
  std::mt19937 rng(42);
  for (auto& c : big) c = static_cast<char>(rng());
  const auto hex = store.put(big);
  EXPECT_EQ(hex, sha256_hex(big));
  EXPECT_EQ(store.get(hex), big);
  EXPECT_EQ(count_files(dir.path()), 2u);
}

TEST(ContentStore, GetAnswersTheBytesOrNothing) {
  TempDir dir;
  const ContentStore store(dir.path() / "store");
  const std::string bytes("binary\0\x01\x02\xfe\xff", 11);
  const auto hex = store.put(bytes);
  const auto got = store.get(hex);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, bytes);
  EXPECT_EQ(store.get(std::string(64, '0')), std::nullopt);
  EXPECT_EQ(store.get(sha256_hex("never stored")), std::nullopt);
}

TEST(ContentStore, PathOfRefusesWhatIsNotADigest) {
  TempDir dir;
  const ContentStore store(dir.path());
  const auto good = sha256_hex("x");
  EXPECT_NO_THROW(store.path_of(good));
  for (const std::string& bad : {std::string(""), std::string("abc"), good.substr(0, 63), good + "0",
                                 std::string("../../../../etc/passwd"), "../" + good.substr(3),
                                 std::string(63, 'a') + "g", std::string(63, 'a') + "/", good.substr(0, 62) + "\0a"s})
    EXPECT_THROW(store.path_of(bad), std::exception) << bad;
  EXPECT_THROW(store.get("../../etc/passwd"), std::exception);
}

namespace {

// Makes this (single-threaded, forked) process the owner of a mount namespace of its own: as root, or
// inside a user namespace where the kernel allows unprivileged ones.
bool own_mount_namespace() {
  if (::unshare(CLONE_NEWNS) == 0) return true;
  const auto uid = ::getuid(), gid = ::getgid();
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return false;
  auto put = [](const char* file, const std::string& text) {
    const int fd = ::open(file, O_WRONLY);
    if (fd < 0) return false;
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    return ok;
  };
  put("/proc/self/setgroups", "deny");
  return put("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") &&
         put("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1");
}

}  // namespace

// A full disk: a 64 KiB tmpfs, mounted in a child process's own mount namespace (gone with it). Skipped
// where no mount namespace can be had (a container without the right).
TEST(ContentStore, AFullDiskThrowsFullAndLeavesNeitherTheFileNorATemporaryOne) {
  TempDir dir;
  const fs::path root = dir.path() / "store";
  fs::create_directories(root);
  const std::string small = "fits", big(256 * 1024, 'x');
  const char* const failures[] = {"", "a small file did not fit", "a large file fitted", "Full did not say ENOSPC",
                                  "not Full but another error", "a temporary file was left", "the large file is there",
                                  "the small file is no longer readable"};
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int code = [&] {
      if (!own_mount_namespace()) return 77;
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);  // nothing propagates out
      if (::mount("tmpfs", root.c_str(), "tmpfs", 0, "size=64k") != 0) return 77;
      const ContentStore store(root);
      try {
        store.put(small);
      } catch (...) {
        return 1;
      }
      try {
        store.put(big);
        return 2;
      } catch (const ContentStore::Full& e) {
        if (e.code() != std::errc::no_space_on_device) return 3;
      } catch (...) {
        return 4;
      }
      for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.path().filename().string().starts_with(".tmp")) return 5;
      if (fs::exists(store.path_of(sha256_hex(big)))) return 6;
      if (store.get(sha256_hex(small)) != small) return 7;
      return 0;
    }();
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the child ended by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  const int code = WEXITSTATUS(status);
  if (code == 77) GTEST_SKIP() << "no mount namespace here (needs root or unprivileged user namespaces)";
  EXPECT_EQ(code, 0) << (code > 0 && code < 8 ? failures[code] : "unknown");
}

// ---------------------------------------------------------------------------------------------------
// clamd::scan against a fake clamd

namespace {

// A fake clamd: listens on a unix socket in its own temporary folder, accepts one connection, reads
// "zINSTREAM\0" and the chunks until the zero length, then answers `reply`.
class FakeClamd {
 public:
  explicit FakeClamd(std::string reply) : reply_(std::move(reply)) {
    socket_path_ = (dir_.path() / "clamd.sock").string();
    listener_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (listener_ < 0) throw std::runtime_error("socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path_.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long");
    std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
    if (::bind(listener_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("bind");
    if (::listen(listener_, 1) != 0) throw std::runtime_error("listen");
    timeval tv{10, 0};  // never hang the test
    ::setsockopt(listener_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeClamd() {
    if (thread_.joinable()) thread_.join();
    ::close(listener_);
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  const std::string& socket_path() const { return socket_path_; }

  // What the fake saw (read after join()).
  bool accepted = false;
  std::string command;
  std::string received;
  std::vector<std::uint32_t> chunk_sizes;
  bool terminated = false;  // the zero length was read
  std::string error;

 private:
  bool read_exactly(int fd, char* out, std::size_t n) {
    while (n > 0) {
      const auto got = ::recv(fd, out, n, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      out += got;
      n -= static_cast<std::size_t>(got);
    }
    return true;
  }

  void serve() {
    const int fd = ::accept(listener_, nullptr, nullptr);
    if (fd < 0) {
      error = "accept failed";
      return;
    }
    accepted = true;
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    command.resize(10);
    if (!read_exactly(fd, command.data(), command.size())) {
      error = "no command";
    } else {
      for (;;) {
        unsigned char len[4];
        if (!read_exactly(fd, reinterpret_cast<char*>(len), 4)) {
          error = "no chunk length";
          break;
        }
        const std::uint32_t n = (std::uint32_t{len[0]} << 24) | (std::uint32_t{len[1]} << 16) |
                                (std::uint32_t{len[2]} << 8) | std::uint32_t{len[3]};
        if (n == 0) {
          terminated = true;
          break;
        }
        chunk_sizes.push_back(n);
        std::string chunk(n, '\0');
        if (!read_exactly(fd, chunk.data(), n)) {
          error = "short chunk";
          break;
        }
        received += chunk;
      }
    }
    if (terminated) ::send(fd, reply_.data(), reply_.size(), MSG_NOSIGNAL);
    ::close(fd);
  }

  TempDir dir_;
  std::string reply_;
  std::string socket_path_;
  int listener_ = -1;
  std::thread thread_;
};

std::string payload(std::size_t n) {
  std::string out(n, '\0');
  std::mt19937 rng(7);
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

}  // namespace

TEST(Clamd, ACleanFileStreamedInSeveralChunks) {
  FakeClamd fake("stream: OK\0"s);
  const auto bytes = payload(200 * 1024 + 123);  // more than 64 KiB: several chunks
  const auto verdict = clamd::scan(fake.socket_path(), bytes, std::chrono::seconds(5));
  fake.join();
  EXPECT_TRUE(fake.error.empty()) << fake.error;
  EXPECT_TRUE(fake.accepted);
  EXPECT_EQ(fake.command, "zINSTREAM\0"s);
  EXPECT_TRUE(fake.terminated);
  EXPECT_GE(fake.chunk_sizes.size(), 2u);
  for (auto n : fake.chunk_sizes) EXPECT_LE(n, 64u * 1024u);
  EXPECT_EQ(fake.received.size(), bytes.size());
  EXPECT_TRUE(fake.received == bytes);
  EXPECT_TRUE(verdict.clean);
  EXPECT_EQ(verdict.signature, "");
}

TEST(Clamd, AnInfectedFileNamesItsSignature) {
  FakeClamd fake("stream: Eicar-Test-Signature FOUND\0"s);
  const std::string eicar = R"(X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*)";
  const auto bytes = eicar + payload(70 * 1024);
  const auto verdict = clamd::scan(fake.socket_path(), bytes, std::chrono::seconds(5));
  fake.join();
  EXPECT_TRUE(fake.error.empty()) << fake.error;
  EXPECT_EQ(fake.command, "zINSTREAM\0"s);
  EXPECT_TRUE(fake.terminated);
  EXPECT_EQ(fake.chunk_sizes.size(), 2u);
  EXPECT_TRUE(fake.received == bytes);
  EXPECT_FALSE(verdict.clean);
  EXPECT_EQ(verdict.signature, "Eicar-Test-Signature");
}

TEST(Clamd, AnEmptyFileSendsOnlyTheZeroLength) {
  FakeClamd fake("stream: OK\0"s);
  const auto verdict = clamd::scan(fake.socket_path(), "", std::chrono::seconds(5));
  fake.join();
  EXPECT_TRUE(fake.error.empty()) << fake.error;
  EXPECT_TRUE(fake.terminated);
  EXPECT_TRUE(fake.chunk_sizes.empty());
  EXPECT_TRUE(verdict.clean);
}

TEST(Clamd, AnErrorAnswerThrows) {
  FakeClamd fake("INSTREAM size limit exceeded. ERROR\0"s);
  EXPECT_THROW(clamd::scan(fake.socket_path(), "abc", std::chrono::seconds(5)), std::runtime_error);
  fake.join();
}

TEST(Clamd, NothingListeningThrows) {
  TempDir dir;
  // No socket file at all.
  EXPECT_THROW(clamd::scan((dir.path() / "absent.sock").string(), "abc", std::chrono::seconds(1)), std::runtime_error);
  // A socket file that nobody listens on (bound, then closed).
  const auto path = (dir.path() / "dead.sock").string();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
  EXPECT_THROW(clamd::scan(path, "abc", std::chrono::seconds(1)), std::runtime_error);
  // A path too long for a unix socket.
  EXPECT_THROW(clamd::scan("/tmp/" + std::string(200, 'x'), "abc", std::chrono::seconds(1)), std::runtime_error);
}
