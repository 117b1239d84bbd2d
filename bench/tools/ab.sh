#!/usr/bin/env bash
# Alternating A/B of one certpilot command between two bundles, in the current directory (a state
# made by bench/tools/many.mjs, say): wall, CPU (user + sys) and peak RSS (KiB) of each run, from
# GNU time, with a clean environment.
#
#   cd DIR && A=old/dist/bundle B=dist/bundle bash bench/tools/ab.sh RUNS renew --config certpilot.yaml
set -euo pipefail
RUNS=${1:?runs}; shift
: "${A:?set A to a bundle directory}" "${B:?set B to a bundle directory}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for _ in $(seq "$RUNS"); do
  for b in "$A" "$B"; do
    env -i PATH=/usr/bin:/bin /usr/bin/time -a -o "$log" -f "$b %e %U %S %M" node "$b/certpilot.js" "$@" >/dev/null 2>&1 || true
  done
done
# GNU time writes "Command exited with non-zero status N" before a failed run's figures.
grep -c '^Command exited' "$log" >/dev/null && echo "some runs failed: $(grep '^Command exited' "$log" | sort | uniq -c)"
awk -v a="$A" -v b="$B" '$1 == a || $1 == b { w[$1] = w[$1] " " $2; c[$1] = c[$1] " " ($3 + $4); m[$1] = m[$1] " " $5 } END { for (k in w) print k ": wall" w[k] " | CPU" c[k] " | RSS" m[k] }' "$log"
