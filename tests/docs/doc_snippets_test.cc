// tests/docs/doc_snippets_test.cc: every C++ block in the docs is code that is
// built and run.
//
// A fenced ```c++ block in README.md or docs/*.md must be preceded by a line
//   <!-- snippet: PATH#NAME -->
// naming a region of a source file in the repository, marked there by the
// lines `// [START NAME]` and `// [END NAME]`; the block must equal that
// region with its common indentation removed. The source files are targets
// that `make test` builds and runs (examples and tests), so a block that no
// longer compiles or works fails the suite, and one that drifted from its
// source fails here. Files to check are the test's arguments (paths relative
// to the repository root, which is the test's working directory).
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"

namespace {

std::vector<std::string> g_docs;

bool ReadLines(const std::string& path, std::vector<std::string>* lines) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  while (std::getline(in, line)) lines->push_back(line);
  return true;
}

// Region: the lines between `// [START name]` and `// [END name]` of `path`,
// without their common indentation; false (and `*why`) if there is none.
bool Region(const std::string& path, const std::string& name, std::vector<std::string>* out,
            std::string* why) {
  std::vector<std::string> lines;
  if (!ReadLines(path, &lines)) {
    *why = absl::StrCat("cannot read ", path);
    return false;
  }
  const std::string start = absl::StrCat("// [START ", name, "]");
  const std::string end = absl::StrCat("// [END ", name, "]");
  bool inside = false, found = false;
  for (const std::string& line : lines) {
    const absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (trimmed == start) {
      inside = found = true;
      continue;
    }
    if (trimmed == end) {
      inside = false;
      continue;
    }
    if (inside) out->push_back(line);
  }
  if (!found) {
    *why = absl::StrCat(path, " has no region ", start);
    return false;
  }
  size_t indent = std::string::npos;
  for (const std::string& line : *out) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    indent = std::min(indent, line.find_first_not_of(' '));
  }
  if (indent == std::string::npos) indent = 0;
  for (std::string& line : *out) line = line.size() >= indent ? line.substr(indent) : "";
  return true;
}

TEST(DocSnippetsTest, EveryCppBlockIsABuiltSourceRegion) {
  ASSERT_FALSE(g_docs.empty()) << "no documents given";
  int blocks = 0;
  for (const std::string& doc : g_docs) {
    std::vector<std::string> lines;
    ASSERT_TRUE(ReadLines(doc, &lines)) << "cannot read " << doc;
    std::string marker;  // the last snippet marker seen
    for (size_t i = 0; i < lines.size(); ++i) {
      const absl::string_view line = absl::StripAsciiWhitespace(lines[i]);
      if (absl::StartsWith(line, "<!-- snippet:")) {
        marker = std::string(absl::StripAsciiWhitespace(
            absl::StripSuffix(absl::StripPrefix(line, "<!-- snippet:"), "-->")));
        continue;
      }
      if (!absl::StartsWith(line, "```")) {
        if (!line.empty()) marker.clear();  // a marker belongs to the next block only
        continue;
      }
      const absl::string_view lang = absl::StripPrefix(line, "```");
      // Find the block's end whatever its language, so fences pair up.
      size_t end = i + 1;
      while (end < lines.size() && !absl::StartsWith(absl::StripAsciiWhitespace(lines[end]), "```"))
        ++end;
      if (lang == "c++" || lang == "cpp" || lang == "cc") {
        ++blocks;
        const std::string where = absl::StrCat(doc, ":", i + 1);
        std::vector<std::string> block(lines.begin() + i + 1, lines.begin() + end);
        std::vector<std::string> pieces = absl::StrSplit(marker, '#');
        if (marker.empty() || pieces.size() != 2) {
          ADD_FAILURE() << where
                        << ": a C++ block without a <!-- snippet: PATH#NAME --> line before it";
        } else {
          std::vector<std::string> region;
          std::string why;
          if (!Region(pieces[0], pieces[1], &region, &why)) {
            ADD_FAILURE() << where << ": " << why;
          } else {
            EXPECT_EQ(absl::StrJoin(block, "\n"), absl::StrJoin(region, "\n"))
                << where << ": the block differs from " << marker;
          }
        }
      }
      marker.clear();
      i = end;
    }
  }
  EXPECT_GT(blocks, 0) << "no C++ block found: is the list of documents right?";
}

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) g_docs.push_back(argv[i]);
  return RUN_ALL_TESTS();
}
