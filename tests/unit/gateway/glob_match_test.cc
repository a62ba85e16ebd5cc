// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <string>

#include "gateway/config.h"

namespace gateway {
namespace {

struct GlobCase {
  const char* pattern;
  const char* text;
  bool match;
};

// Redis's glob rules (stringmatchlen): *, ?, [abc], [^a], [a-z], backslash escapes.
// Redis's stringmatchlen never matches an empty string against a non-empty pattern, not even
// "*" (PSUBSCRIBE * does not hear PUBLISH ""); KEYS and SCAN special-case a lone "*".
TEST(GlobMatch, FollowsRedisRules) {
  const GlobCase cases[] = {
      {"*", "", false},          {"*", "anything", true},   {"h?llo", "hello", true},
      {"h?llo", "hllo", false},  {"h*llo", "hllo", true},   {"h*llo", "heeeello", true},
      {"h[ae]llo", "hallo", true}, {"h[ae]llo", "hillo", false}, {"h[^e]llo", "hallo", true},
      {"h[^e]llo", "hello", false}, {"h[a-b]llo", "hbllo", true}, {"h[b-a]llo", "hbllo", true},
      {"h\\*llo", "h*llo", true}, {"h\\*llo", "hello", false}, {"h[\\]]llo", "h]llo", true},
      {"user:*", "user:1", true}, {"user:*", "users", false}, {"a*b*c", "abc", true},
      {"a*b*c", "acb", false},   {"", "", true},            {"", "a", false},
  };
  for (const GlobCase& c : cases) {
    EXPECT_EQ(GlobMatch(c.pattern, c.text, false), c.match) << c.pattern << " vs " << c.text;
  }
  EXPECT_TRUE(GlobMatch("HELLO", "hello", /*nocase=*/true));
  EXPECT_FALSE(GlobMatch("HELLO", "hello", /*nocase=*/false));
}

// The pattern of CVE-2022-36021: without the early stop, matching backtracks exponentially and
// one KEYS call would hold the event loop for minutes. With it, this returns at once.
TEST(GlobMatch, ManyStarsDoNotBacktrackExponentially) {
  std::string pattern;
  for (int i = 0; i < 30; ++i) pattern += "a*";
  pattern += "b";
  std::string text(60, 'a');
  EXPECT_FALSE(GlobMatch(pattern, text, false));
  EXPECT_TRUE(GlobMatch(pattern, text + "b", false));
}

}  // namespace
}  // namespace gateway
