#!/usr/bin/env bash
# tests/tools/check_pure_core.sh — fails if a pure core reaches for a clock,
# randomness, I/O, threads, sockets or CAF (STYLE.md principle 12).
#   check_pure_core.sh DIR...   (default: actors/raft)
# Exit 0 when clean; 1 with file:line of each violation.
set -uo pipefail
dirs=("$@")
((${#dirs[@]})) || dirs=(actors/raft)
banned='#include[[:space:]]*<(chrono|random|thread|mutex|condition_variable|future|atomic|fstream|iostream|cstdio|stdio\.h|ctime|time\.h|filesystem|sys/|unistd\.h|netinet/|arpa/)|#include[[:space:]]*[<"]caf/|#include[[:space:]]*<boost/asio|std::rand\b|\brand\(|srand\(|random_device|system_clock|steady_clock|high_resolution_clock|std::thread|pthread_|\bsocket\(|\bfopen\(|std::cout|std::cerr|printf\(|unordered_(map|set)'
hits=$(grep -RnE "$banned" "${dirs[@]}" --include='*.h' --include='*.cpp' || true)
if [[ -n "$hits" ]]; then
  echo "pure core violation (no clock, randomness, I/O, threads, sockets, CAF or unordered containers):"
  echo "$hits"
  exit 1
fi
echo "pure core check: clean (${dirs[*]})"
