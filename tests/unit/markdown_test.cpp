// Notebook markdown: every hostile vector of tests/data/xss-corpus.txt renders to HTML that holds only
// what cmark-gfm writes itself and only safe URLs; ordinary markdown still renders; safe_url's
// allow-list; and the HTML checker itself reports bad HTML, so it cannot silently pass everything.
#include "kit/markdown.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/html_check.hpp"

using spectra::kit::render_markdown;
using spectra::kit::safe_url;
using spectra::test::html_problems;
using spectra::test::xss_corpus;

namespace {

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += "  " + l + "\n";
  return out;
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST(Markdown, EveryHostileVectorRendersToCleanHtml) {
  const auto vectors = xss_corpus();
  ASSERT_GE(vectors.size(), 80u) << "corpus missing or short: " SPECTRA_SOURCE_DIR "/tests/data/xss-corpus.txt";
  for (size_t i = 0; i < vectors.size(); ++i) {
    const std::string html = render_markdown(vectors[i]);
    const auto problems = html_problems(html);
    EXPECT_TRUE(problems.empty()) << "vector #" << i + 1 << ":\n"
                                  << vectors[i] << "HTML:\n"
                                  << html << "problems:\n"
                                  << joined(problems);
  }
}

TEST(Markdown, TablesRender) {
  const auto html = render_markdown("| a | b |\n|:--|--:|\n| 1 | 2 |\n");
  EXPECT_TRUE(contains(html, "<table>")) << html;
  EXPECT_TRUE(contains(html, "<th align=\"left\">a</th>")) << html;
  EXPECT_TRUE(contains(html, "<td align=\"right\">2</td>")) << html;
  EXPECT_TRUE(html_problems(html).empty()) << html;
}

TEST(Markdown, TaskListsRenderCheckboxes) {
  const auto html = render_markdown("- [x] done\n- [ ] todo\n");
  EXPECT_TRUE(contains(html, "<input type=\"checkbox\" checked=\"\" disabled=\"\" />")) << html;
  EXPECT_TRUE(contains(html, "<input type=\"checkbox\" disabled=\"\" />")) << html;
  EXPECT_TRUE(html_problems(html).empty()) << html;
}

TEST(Markdown, SafeLinksKeepTheirUrls) {
  EXPECT_TRUE(contains(render_markdown("[ok](https://example.com)"), "<a href=\"https://example.com\">ok</a>"));
  EXPECT_TRUE(contains(render_markdown("[rel](/samples/1)"), "<a href=\"/samples/1\">rel</a>"));
  EXPECT_TRUE(contains(render_markdown("[frag](#x)"), "<a href=\"#x\">frag</a>"));
  EXPECT_TRUE(contains(render_markdown("[m](mailto:a@b.c)"), "<a href=\"mailto:a@b.c\">m</a>"));
  EXPECT_TRUE(contains(render_markdown("![p](/img/p.png \"t\")"), "<img src=\"/img/p.png\" alt=\"p\" title=\"t\" />"));
  EXPECT_TRUE(contains(render_markdown("see www.example.com"), "<a href=\"http://www.example.com\">"));
}

TEST(Markdown, UnsafeLinksLoseTheirUrlsButKeepTheirText) {
  EXPECT_TRUE(contains(render_markdown("[bad](javascript:alert(1))"), "<a href=\"\">bad</a>"));
  EXPECT_TRUE(contains(render_markdown("![bad](data:image/png;base64,AAAA)"), "<img src=\"\" alt=\"bad\" />"));
  EXPECT_TRUE(contains(render_markdown("[r]\n\n[r]: vbscript:x"), "<a href=\"\">r</a>"));
}

TEST(Markdown, StrikethroughAndCode) {
  EXPECT_TRUE(contains(render_markdown("~~x~~"), "<del>x</del>"));
  const auto code = render_markdown("```python\n<b>1</b>\n```\n");
  EXPECT_TRUE(contains(code, "<pre lang=\"python\"><code>&lt;b&gt;1&lt;/b&gt;")) << code;
}

TEST(Markdown, RawHtmlIsOmitted) {
  const auto html = render_markdown("a <b>x</b> c\n\n<div>block</div>\n");
  EXPECT_FALSE(contains(html, "<b>")) << html;
  EXPECT_FALSE(contains(html, "<div")) << html;
  EXPECT_TRUE(contains(html, "<!-- raw HTML omitted -->")) << html;
  EXPECT_TRUE(contains(html, "x")) << html;
}

TEST(SafeUrl, AllowsRelativeFragmentAndWebUrls) {
  for (std::string_view url : {"", "https://example.com", "http://example.com/a?b#c", "HTTPS://EXAMPLE.COM",
                               "mailto:a@b.c", "/samples/1", "samples/1", "#x", "?q=1", "//example.com",
                               "./a:b", "a/b:c", "a#b:c", "a?b:c", "ht\ttp://example.com"}) {
    EXPECT_TRUE(safe_url(url)) << '"' << url << '"';
  }
}

TEST(SafeUrl, RefusesOtherSchemesHoweverSpelled) {
  for (std::string_view url : {"javascript:alert(1)", "JavaScript:alert(1)", " JAVASCRIPT:alert(1)",
                               "java\tscript:alert(1)", "java\nscript:alert(1)", "\x01javascript:alert(1)",
                               "javascript\x7f:alert(1)", "vbscript:msgbox(1)", "data:text/html,x",
                               "data:image/png;base64,AAAA", "file:///etc/passwd", "foo:bar", "ftp://a"}) {
    EXPECT_FALSE(safe_url(url)) << '"' << url << '"';
  }
}

TEST(HtmlCheck, ReportsBadHtml) {
  for (std::string_view bad : {
           "<script>alert(1)</script>",
           "<p>a</p><img src=x onerror=alert(1)>",
           "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
           "<a href=javascript:alert(1)>x</a>",
           "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
           "<a href='&#0000106avascript&colon;alert(1)'>x</a>",
           "<a href=\"java&Tab;script:alert(1)\">x</a>",
           "<a href=\" JaVaScRiPt:alert(1)\">x</a>",
           "<img src=\"data:image/png;base64,AAAA\" alt=\"\" />",
           "<a href=\"vbscript:x\">x</a>",
           "<p style=\"color:red\">x</p>",
           "<a href=\"\" onclick=\"x\">x</a>",
           "<a/onmouseover=alert(1)>x</a>",
           "<svg onload=alert(1)>",
           "<input type=\"image\" />",
           "<p>x</p><!DOCTYPE html>",
           "<p>x <!-- never closed</p>",
           "<a href=\"x",
           "<a href=\"/ok\"",
       }) {
    EXPECT_FALSE(html_problems(bad).empty()) << bad;
  }
}

TEST(HtmlCheck, AcceptsWhatCmarkWrites) {
  const std::string clean =
      "<h1>T</h1>\n<p><em>a</em> <strong>b</strong> <del>c</del> <code>&lt;script&gt;</code><br />\n"
      "<a href=\"https://example.com/?a=1&amp;b=2\" title=\"t &quot;q&quot;\">l</a> <a href=\"\">x</a> "
      "<a href=\"#frag\">f</a> <a href=\"mailto:a@b.c\">m</a> <img src=\"/p.png\" alt=\"a\" /></p>\n"
      "<!-- raw HTML omitted -->\n<blockquote>\n<p>q</p>\n</blockquote>\n<hr />\n"
      "<ol start=\"3\">\n<li>x</li>\n</ol>\n<ul>\n<li><input type=\"checkbox\" checked=\"\" disabled=\"\" /> d</li>\n</ul>\n"
      "<pre lang=\"py&quot;&gt;\"><code class=\"language-py\">x &lt; 1\n</code></pre>\n"
      "<table>\n<thead>\n<tr>\n<th align=\"center\">a</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td>1</td>\n</tr>\n"
      "</tbody>\n</table>\n";
  EXPECT_TRUE(html_problems(clean).empty()) << joined(html_problems(clean));

  const auto rendered = render_markdown(
      "# T\n\n*a* **b** ~~c~~ `<x>` www.example.com <https://a.b> a@b.c [r](/x \"t\") ![i](i.png)\n\n"
      "> q\n\n---\n\n3. x\n\n- [x] d\n- [ ] e\n\n```js\nx < 1\n```\n\n| a | b |\n|:-:|---|\n| 1 | 2 |\n\n<b>raw</b>\n");
  EXPECT_TRUE(html_problems(rendered).empty()) << rendered << joined(html_problems(rendered));
}
