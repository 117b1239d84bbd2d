# Sourced by scripts/setup.sh and scripts/image.sh (bash). Defines debian_mirror, which prints the
# URI of the Debian mirror this machine's apt sources already use for its own release (never a
# hard-coded host), or nothing when there is none. Security suites are skipped.
debian_mirror() {
  local codename
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
  {
    # deb822: the URIs of the stanza whose Suites holds the release's own codename.
    shopt -s nullglob
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
      awk -v cn="$codename" '
        function flush() { if (uris != "" && hit) print uris; uris = ""; hit = 0 }
        /^[[:space:]]*$/ { flush(); next }
        /^[[:space:]]*#/ { next }
        tolower($1) == "uris:" { uris = $2 }
        tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == cn) hit = 1 }
        END { flush() }' "$f"
    done
    # one-line format: deb [options] URI suite components...
    local l
    for l in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [[ -f $l ]] || continue
      awk -v cn="$codename" '
        $1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
                      if ($(i + 1) == cn) print $i }' "$l"
    done
  } | { grep -v -- '-security' || true; } | head -n 1
}
