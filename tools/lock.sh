#!/usr/bin/env bash
# Refresh the dependency locks in requirements/ from pyproject.toml, with uv.
#
#   tools/lock.sh            newest releases that resolve, exact versions + sha256 hashes
#   tools/lock.sh -P boto3   extra uv arguments, e.g. upgrade only boto3 (--upgrade-package)
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

compile() {  # compile <output> [uv pip compile arguments...]
  local out=$1; shift
  # Run from the repository so the header's command is the same on every machine;
  # --upgrade: newest releases, not whatever the previous lock held.
  "$UV" pip compile pyproject.toml --quiet --upgrade --generate-hashes --universal \
    --python-version 3.11 --custom-compile-command tools/lock.sh -o "$out" "$@"
  echo "   $out: $(grep -c '^[A-Za-z0-9]' "$out") packages"
}
mkdir -p requirements
compile requirements/test.lock --extra test "$@"
compile requirements/app.lock -c requirements/test.lock "$@"
compile requirements/build.lock --extra build -c requirements/test.lock "$@"
