#!/usr/bin/env bash
# Build the one-folder desktop app with PyInstaller (build.spec) and report its size.
#
#   tools/build_desktop.sh      -> dist/xacct-wizard/xacct-wizard, dist/xacct-wizard/BUILD-SIZE.txt
#
# Uses the project's virtual environment (.venv, or the interpreter in $PYTHON) and first
# brings it to requirements/build.lock (the runtime and PyInstaller, exact versions and hashes;
# nearly a no-op in a venv made from requirements/test.lock, whose pins it shares), so the
# bundle holds the locked releases. Prints the bundle's total size,
# its compressed size (a .tar.gz, what a download would be) and the 10 largest items, and
# writes the same to dist/xacct-wizard/BUILD-SIZE.txt. Exits non-zero when the build fails,
# or when the bundle is larger than $XACCT_MAX_BUNDLE_MB (unset: reported, not enforced).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
DIST=dist/xacct-wizard
TARGET_MB=200

echo "== installing requirements/build.lock (the runtime and PyInstaller, locked)"
"$PYTHON" -m pip install -q --require-hashes -r requirements/build.lock
"$PYTHON" -m pip install -q --no-deps -e .
echo "== PyInstaller $("$PYTHON" -m PyInstaller --version) on $("$PYTHON" -V 2>&1)"

start=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN build.spec
took=$(( $(date +%s) - start ))

if [ ! -x "$DIST/xacct-wizard" ]; then
  echo "build failed: $DIST/xacct-wizard is missing" >&2
  exit 1
fi

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
top10() { sort -rn | awk -F'\t' 'NR <= 10 { printf "  %7.1f MB  %s\n", $1 / 1048576, $2 }'; }

total_b=$(du -sb "$DIST" | cut -f1)
total_mb=$(( (total_b + 524287) / 1048576 ))
files=$(find "$DIST" -type f | wc -l)
tgz_b=$(tar -C dist -cf - xacct-wizard | gzip -6 | wc -c)

{
  echo "xacct-wizard desktop build: $DIST (binary: $DIST/xacct-wizard)"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) in ${took} s with $("$PYTHON" -V 2>&1)" \
       "on $(uname -sm)"
  echo "total: $(mb "$total_b") MB in $files files (target < ${TARGET_MB} MB:" \
       "$([ "$total_mb" -lt "$TARGET_MB" ] && echo met || echo NOT met));" \
       "as .tar.gz: $(mb "$tgz_b") MB"
  echo
  echo "10 largest files:"
  find "$DIST" -type f ! -name BUILD-SIZE.txt -printf '%s\t%P\n' | top10
  echo
  echo "10 largest packages (folders of _internal/; PySide6's Qt split in lib/ and plugins/):"
  find "$DIST/_internal" -type f -printf '%s\t%P\n' | awk -F'\t' '
    { n = split($2, p, "/")
      key = (n > 1) ? p[1] "/" : "(other libraries at the top of _internal/)"
      if (n == 1 && p[1] ~ /\.cpython-/) key = p[1]  # an extension module: on its own
      if (p[1] == "PySide6" && p[2] == "Qt" && n > 3) key = "PySide6/Qt/" p[3] "/"
      s[key] += $1 }
    END { for (k in s) printf "%s\t%s\n", s[k], k }' | top10
} | tee "$DIST/BUILD-SIZE.txt"

if [ -n "${XACCT_MAX_BUNDLE_MB:-}" ] && [ "$total_mb" -gt "$XACCT_MAX_BUNDLE_MB" ]; then
  echo "bundle is ${total_mb} MB, over XACCT_MAX_BUNDLE_MB=${XACCT_MAX_BUNDLE_MB}" >&2
  exit 1
fi
