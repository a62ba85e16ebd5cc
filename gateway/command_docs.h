// SPDX-License-Identifier: Apache-2.0
//
// Renders the command table as Markdown for docs/compatibility.md, so the document is
// generated from the one place that declares commands. `redis-nats-gateway
// --print-command-table` prints it; scripts/gen-compat-docs.sh splices it into the document
// and a unit test fails when the document is stale.
//
// Thread: any.
#pragma once

#include <string>

namespace gateway {

// The generated block, including its begin/end marker lines.
std::string RenderCommandTableMarkdown();

inline constexpr const char* kCommandTableBegin = "<!-- BEGIN GENERATED COMMAND TABLE -->";
inline constexpr const char* kCommandTableEnd = "<!-- END GENERATED COMMAND TABLE -->";

}  // namespace gateway
