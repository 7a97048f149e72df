#pragma once
// A checker for the HTML the notebook markdown renderer writes: it must hold only the tags and
// attributes cmark-gfm writes itself, and links and images only relative, fragment, http, https and
// mailto URLs. Tests run it over hostile markdown so that a hole in the renderer shows up as a problem.
#include <string>
#include <string_view>
#include <vector>

namespace spectra::test {

// One description per problem found in `html` ("at 12: tag <script> is not allowed"); empty when
// the HTML is clean. A small hand-written scanner, not a full HTML parser: it reads every `<`, so it
// errs towards reporting what a browser might read differently.
std::vector<std::string> html_problems(std::string_view html);

// The hostile markdown of tests/data/xss-corpus.txt: the text between its separator lines (the header
// before the first one is not a vector; the line ending before a separator belongs to the vector).
std::vector<std::string> xss_corpus();

}  // namespace spectra::test
