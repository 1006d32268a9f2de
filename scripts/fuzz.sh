#!/usr/bin/env bash
# Runs every `go test -fuzz` target in the repository for a bounded time each
# (default 10s; `scripts/fuzz.sh 60s` for longer). The seed corpora (f.Add
# seeds and testdata/fuzz) also run as plain tests in `go test ./...`.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-10s}"
passed=0 failed=0
while IFS=: read -r file fn; do
  pkg="./$(dirname "$file")"
  name="${fn#func }"; name="${name%%(*}"
  echo "== fuzz $pkg $name ($fuzztime)"
  if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/zoogate-fuzz.log 2>&1; then
    passed=$((passed + 1))
    tail -n 1 /tmp/zoogate-fuzz.log
  else
    failed=$((failed + 1))
    cat /tmp/zoogate-fuzz.log
  fi
done < <(git ls-files '*_test.go' | xargs grep -o '^func Fuzz[A-Za-z0-9_]*(' /dev/null | sed 's/($//' | sort)
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
