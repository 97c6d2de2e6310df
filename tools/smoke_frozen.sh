#!/usr/bin/env bash
# Smoke-test the frozen desktop build (tools/build_desktop.sh) the way a user runs it.
#
#   tools/smoke_frozen.sh [BINARY]        default: dist/xacct-wizard/xacct-wizard
#
# 1. `--version`.
# 2. The headless flow on the sandbox profile: `xacct-wizard sandbox` served in the background,
#    then `apply --sandbox --yes`, `verify --sandbox` (rows printed, exit 0; plus a filtered,
#    grouped query), `destroy --sandbox --yes` on examples/sandbox.yaml. Each command is a
#    separate process, so they share the served sandbox (an in-process one per command would
#    forget the setup between them).
# 3. keyring: `credentials set/list/delete` against a real Secret Service (gnome-keyring in a
#    private D-Bus session), when both are installed (CI installs them).
# 4. The GUI started offscreen for a few seconds and closed: with XACCT_WIZARD_AUTOQUIT_MS the
#    app quits on its own (exit 0); otherwise it gets SIGTERM (exit 0 or 143 accepted). Its
#    output must hold no traceback and no "QThread: Destroyed while thread is still running".
#    Then the same with the sandbox (`--sandbox`), and on a real X server (Xvfb, the xcb
#    platform plugin) when Xvfb is installed.
# Everything runs with XACCT_WIZARD_HOME in a temporary folder (kept, with every command's log,
# when XACCT_SMOKE_KEEP=1). Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-dist/xacct-wizard/xacct-wizard}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
PROFILE=$PWD/examples/sandbox.yaml
GUI_SECONDS=${XACCT_SMOKE_GUI_SECONDS:-4}

if [ ! -x "$BIN" ]; then
  echo "smoke: no frozen binary at $BIN (run tools/build_desktop.sh)" >&2
  exit 2
fi

WORK=$(mktemp -d -t xacct-smoke.XXXXXX)
export XACCT_WIZARD_HOME=$WORK/home
# Nothing from the caller's AWS setup may leak in: the sandbox writes its own config.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
      AWS_SESSION_TOKEN AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
export AWS_EC2_METADATA_DISABLED=true
# The frozen app must not see the build environment's Python.
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV

passed=0
failed=0
SANDBOX_PID=
cleanup() {
  if [ -n "$SANDBOX_PID" ] && kill -0 "$SANDBOX_PID" 2>/dev/null; then
    kill -INT "$SANDBOX_PID" 2>/dev/null
    wait "$SANDBOX_PID" 2>/dev/null
  fi
  if [ -n "${XACCT_SMOKE_KEEP:-}" ]; then
    echo "smoke: logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

ok() { echo "  ok   $*"; passed=$((passed + 1)); }
bad() { echo "  FAIL $*"; failed=$((failed + 1)); }
show() {  # the tail of a log, indented, after a failure
  sed 's/^/       | /' "$1" | tail -n "${2:-25}"
}
clean_output() {  # a log with no traceback and no QThread warning
  ! grep -E -q 'Traceback \(most recent call last\)|QThread: Destroyed while thread|Unexpected error' "$1"
}

# run NAME EXPECTED_RC COMMAND...: runs with a timeout, output in $WORK/NAME.log
run() {
  local name=$1 want=$2
  shift 2
  local log=$WORK/$name.log start rc
  start=$(date +%s%N)
  timeout --kill-after=10 180 "$@" >"$log" 2>&1 </dev/null
  rc=$?
  LAST_LOG=$log
  LAST_SECONDS=$(( ($(date +%s%N) - start) / 1000000000 )).$(( ($(date +%s%N) - start) / 100000000 % 10 ))
  if [ "$rc" = "$want" ] && clean_output "$log"; then
    return 0
  fi
  echo "       $name: exit $rc (wanted $want) after ${LAST_SECONDS}s"
  show "$log"
  return 1
}

echo "== smoke test of the frozen app: $BIN"
echo "   bundle: $(du -sh "$(dirname "$BIN")" | cut -f1)"

# --------------------------------------------------------------------------- 1. --version
if run version 0 "$BIN" --version && grep -q '^xacct-wizard [0-9]' "$LAST_LOG"; then
  ok "--version: $(cat "$LAST_LOG") (${LAST_SECONDS}s)"
else
  bad "--version"
fi
if run help 0 "$BIN" --help && grep -q 'apply' "$LAST_LOG"; then
  ok "--help lists the commands"
else
  bad "--help"
fi

# --------------------------------------------------------------------------- 2. headless flow
start_sandbox() {
  "$BIN" sandbox >"$WORK/sandbox.log" 2>&1 </dev/null &
  SANDBOX_PID=$!
  local i
  for i in $(seq 1 240); do
    if [ -f "$XACCT_WIZARD_HOME/sandbox/sandbox.json" ] && \
       [ -f "$XACCT_WIZARD_HOME/sandbox/aws-config" ]; then
      return 0
    fi
    if ! kill -0 "$SANDBOX_PID" 2>/dev/null; then
      break
    fi
    sleep 0.25
  done
  return 1
}

t0=$(date +%s)
if start_sandbox; then
  ok "sandbox served in the background ($(( $(date +%s) - t0 ))s to start)"
  if run apply 0 "$BIN" apply "$PROFILE" --sandbox --yes; then
    ok "apply --sandbox --yes: $(grep -Eo 'Applied [0-9]+ changes?' "$LAST_LOG") (${LAST_SECONDS}s)"
  else
    bad "apply --sandbox --yes"
  fi
  if run verify 0 "$BIN" verify "$PROFILE" --sandbox && grep -q 'SUCCEEDED' "$LAST_LOG" \
      && grep -Eq '^[1-9][0-9,]* rows?[;.]' "$LAST_LOG"; then
    ok "verify --sandbox: $(grep -E '^[0-9,]+ rows?[;.]' "$LAST_LOG" | cut -d';' -f1) (${LAST_SECONDS}s)"
    sed -n '/SUCCEEDED/,/^[0-9]* rows\{0,1\}[;.]/p' "$LAST_LOG" | sed 's/^/       | /'
  else
    bad "verify --sandbox (rows printed, exit 0)"
  fi
  # A filtered, grouped, ordered query: exercises more of sqlglot and DuckDB over Arrow.
  sql='SELECT artist, count(*) AS songs, max(awards) AS top FROM "acct1dynamodb"."default"."music" WHERE awards > 1 GROUP BY artist ORDER BY artist'
  if run verify_sql 0 "$BIN" verify "$PROFILE" --sandbox --json --sql "$sql" \
      && grep -q '"state": "SUCCEEDED"' "$LAST_LOG" && grep -q '"Acme Band"' "$LAST_LOG"; then
    ok "verify --sandbox --json --sql (WHERE/GROUP BY/ORDER BY): SUCCEEDED (${LAST_SECONDS}s)"
  else
    bad "verify --sandbox --json --sql"
  fi
  if run destroy 0 "$BIN" destroy "$PROFILE" --sandbox --yes; then
    ok "destroy --sandbox --yes: $(grep -Eo 'Undid [0-9]+ changes?' "$LAST_LOG") (${LAST_SECONDS}s)"
  else
    bad "destroy --sandbox --yes"
  fi
  if run plan_after 0 "$BIN" plan "$PROFILE" --sandbox --json \
      && grep -q '"action": "create"' "$LAST_LOG"; then
    ok "plan after destroy: the setup is gone again"
  else
    bad "plan after destroy"
  fi
  kill -INT "$SANDBOX_PID" 2>/dev/null
  for i in $(seq 1 40); do kill -0 "$SANDBOX_PID" 2>/dev/null || break; sleep 0.25; done
  if kill -0 "$SANDBOX_PID" 2>/dev/null; then
    bad "sandbox still running 10s after SIGINT"
    kill -KILL "$SANDBOX_PID" 2>/dev/null
  fi
  wait "$SANDBOX_PID"
  rc=$?
  SANDBOX_PID=
  if { [ "$rc" = 0 ] || [ "$rc" = 130 ]; } && clean_output "$WORK/sandbox.log"; then
    ok "sandbox stopped on SIGINT (exit $rc)"
  else
    bad "sandbox stop: exit $rc"
    show "$WORK/sandbox.log"
  fi
else
  bad "sandbox did not start"
  show "$WORK/sandbox.log"
fi

# --------------------------------------------------------------------------- 3. keyring
# keyring finds its backends through entry points (the bundled dist-info): store, list and
# delete access keys in a real Secret Service (gnome-keyring in a private D-Bus session).
if command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null; then
  kdir=$WORK/keyring
  mkdir -p "$kdir/run" && chmod 700 "$kdir/run"
  secret="smoke-Secret+$$"
  # shellcheck disable=SC2016  # $0/$1 belong to the inner shell
  if run keyring 0 env -i PATH="$PATH" HOME="$kdir" XDG_DATA_HOME="$kdir/data" \
      XDG_CONFIG_HOME="$kdir/config" XDG_RUNTIME_DIR="$kdir/run" \
      XACCT_WIZARD_HOME="$XACCT_WIZARD_HOME" \
      dbus-run-session -- sh -c '
        echo -n x | gnome-keyring-daemon --unlock --components=secrets --daemonize >/dev/null &&
        printf "AKIASMOKETEST0000001\n%s\n" "$1" | "$0" credentials set xw-smoke &&
        "$0" credentials list && "$0" credentials delete xw-smoke &&
        echo "after delete: [$("$0" credentials list)]"' "$BIN" "$secret" \
      && grep -q "^xw-smoke$" "$LAST_LOG" && grep -q "^Deleted xw-smoke" "$LAST_LOG" \
      && grep -q "^after delete: \[\]$" "$LAST_LOG" && ! grep -q "$secret" "$LAST_LOG"; then
    ok "keyring: credentials set/list/delete through the Secret Service (${LAST_SECONDS}s)"
  else
    bad "keyring: credentials set/list/delete"
    show "$LAST_LOG"
  fi
else
  echo "  skip keyring (dbus-run-session or gnome-keyring-daemon is not installed)"
fi

# --------------------------------------------------------------------------- 4. GUI
# gui NAME COMMAND...: the GUI for GUI_SECONDS, then closed; 0 (quit by itself) or 143 (SIGTERM).
gui() {
  local name=$1
  shift
  local log=$WORK/$name.log pid rc i how=quit t0 ran
  t0=$(date +%s)
  XACCT_WIZARD_AUTOQUIT_MS=$((GUI_SECONDS * 1000)) "$@" >"$log" 2>&1 </dev/null &
  pid=$!
  for i in $(seq 1 $((GUI_SECONDS * 4 + 12))); do  # its own quit, if it has one, 3 s more
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$pid" 2>/dev/null; then
    how=SIGTERM
    kill -TERM "$pid"
    for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid"
      how="SIGKILL (no exit 15 s after SIGTERM)"
    fi
  fi
  wait "$pid"
  rc=$?
  ran=$(( $(date +%s) - t0 ))
  if { [ "$rc" = 0 ] || { [ "$how" = SIGTERM ] && [ "$rc" = 143 ]; }; } && clean_output "$log" \
      && [ "$ran" -ge $((GUI_SECONDS - 1)) ]; then
    ok "GUI $name: ran ${ran}s, closed by $how, exit $rc"
  else
    bad "GUI $name: ran ${ran}s, closed by $how, exit $rc"
    show "$log"
  fi
}

QT_QPA_PLATFORM=offscreen gui "offscreen" "$BIN"
QT_QPA_PLATFORM=offscreen gui "offscreen --sandbox" "$BIN" --sandbox
if command -v Xvfb >/dev/null; then
  # A real X server (the xcb platform plugin and its libraries), on a free display number.
  Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$WORK/display" \
    >"$WORK/xvfb.log" 2>&1 &
  XVFB_PID=$!
  for i in $(seq 1 40); do [ -s "$WORK/display" ] && break; sleep 0.25; done
  if [ -s "$WORK/display" ]; then
    DISPLAY=:$(head -n1 "$WORK/display") QT_QPA_PLATFORM=xcb gui "xcb (Xvfb)" "$BIN"
  else
    bad "Xvfb did not start"
    show "$WORK/xvfb.log"
  fi
  kill "$XVFB_PID" 2>/dev/null
  wait "$XVFB_PID" 2>/dev/null
else
  echo "  skip GUI under Xvfb (Xvfb is not installed)"
fi

echo "== smoke: $passed passed, $failed failed"
[ "$failed" = 0 ]
