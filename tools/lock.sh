#!/usr/bin/env bash
# Refresh the dependency locks in requirements/ from pyproject.toml, with uv.
#
#   tools/lock.sh            newest releases that resolve, exact versions + sha256 hashes
#   tools/lock.sh -P boto3   only boto3 to its newest release (any uv pip compile option)
#
# Each lock is universal (one file for Linux, macOS and Windows, Python >= 3.11) and in pip's
# requirements format, so plain pip installs it: pip install --require-hashes -r <lock>.
#   requirements/test.lock   runtime + the `test` extra    (.ci/run, the README's test command)
#   requirements/app.lock    runtime only                  (the README's install command)
#   requirements/build.lock  runtime + the `build` extra   (tools/build_desktop.sh: PyInstaller)
# app.lock and build.lock are resolved under test.lock's pins, so all three agree on every
# package they share and the build extra installs into the test venv without changing it.
# Uses uv from PATH, else installs it into a throwaway venv (.venv-uv/, ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."

UV=$(command -v uv || true)
if [ -z "$UV" ]; then
  if [ ! -x .venv-uv/bin/uv ]; then
    echo "== installing uv into .venv-uv (throwaway)"
    python3 -m venv .venv-uv
    .venv-uv/bin/python -m pip install -q uv
  fi
  UV=.venv-uv/bin/uv
fi
echo "== $("$UV" --version)"

# No arguments: every package to its newest release (--upgrade). With arguments (say
# -P boto3), uv keeps every other pin of the existing locks.
[ $# -eq 0 ] && set -- --upgrade

compile() {  # compile <output> [uv pip compile arguments...]
  local out=$1; shift
  "$UV" pip compile pyproject.toml --quiet --generate-hashes --universal \
    --python-version 3.11 --custom-compile-command tools/lock.sh -o "$out" "$@"
  echo "   $out: $(grep -c '^[A-Za-z0-9]' "$out") packages"
}
mkdir -p requirements
compile requirements/test.lock --extra test "$@"
compile requirements/app.lock -c requirements/test.lock "$@"
compile requirements/build.lock --extra build -c requirements/test.lock "$@"
