#!/usr/bin/env bash
# Regenerates the command table block of docs/compatibility.md from the gateway's command table.
# Usage: scripts/gen-compat-docs.sh [path/to/redis-nats-gateway]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release/gateway/redis-nats-gateway}
doc=docs/compatibility.md
table=$("$bin" --print-command-table)
/usr/bin/python3 - "$doc" "$table" <<'PY'
import sys
path, table = sys.argv[1], sys.argv[2]
begin, end = "<!-- BEGIN GENERATED COMMAND TABLE -->", "<!-- END GENERATED COMMAND TABLE -->"
text = open(path).read()
a, b = text.index(begin), text.index(end) + len(end)
open(path, "w").write(text[:a] + table.rstrip("\n") + text[b:])
PY
echo "updated $doc"
