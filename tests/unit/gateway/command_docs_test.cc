// SPDX-License-Identifier: Apache-2.0
#include "gateway/command_docs.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace gateway {
namespace {

TEST(CommandDocs, CompatibilityDocumentMatchesTheCommandTable) {
  std::ifstream in(std::string(RNG_SOURCE_DIR) + "/docs/compatibility.md");
  ASSERT_TRUE(in.good()) << "docs/compatibility.md is missing";
  std::stringstream text;
  text << in.rdbuf();
  std::string generated = RenderCommandTableMarkdown();
  generated.pop_back();  // the document may continue right after the end marker
  EXPECT_NE(text.str().find(generated), std::string::npos)
      << "docs/compatibility.md is stale: run scripts/gen-compat-docs.sh";
}

TEST(CommandDocs, EveryTopLevelCommandHasARow) {
  std::string table = RenderCommandTableMarkdown();
  EXPECT_NE(table.find("| `GET` |"), std::string::npos);
  EXPECT_NE(table.find("| `CLIENT SETINFO` |"), std::string::npos);
  EXPECT_NE(table.find("| `COMMAND` |"), std::string::npos);
}

}  // namespace
}  // namespace gateway
