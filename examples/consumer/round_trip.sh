#!/usr/bin/env bash
# round_trip.sh ECHO: one round trip through the echo server ECHO (examples/consumer).
#
# Starts `ECHO 0`, reads the port from its "listening" line, connects, sends one line,
# expects the same line back, closes, and expects the server to exit 0. Every wait is
# bounded (10 s). Prints "round_trip: OK (port N)" or what went wrong; exit 0 or 1.
set -euo pipefail

if (($# != 1)); then
  echo "usage: $0 ECHO_BINARY" >&2
  exit 2
fi
echo_bin=$1
limit_s=10

fail() {
  echo "round_trip: FAILED: $*" >&2
  if [[ -n ${pid:-} ]]; then kill "$pid" 2>/dev/null || true; fi
  exit 1
}

# The server's stdout arrives on a pipe, so each wait below is a bounded read.
exec {server_out}< <(exec "$echo_bin" 0)
pid=$!

rc=0
IFS= read -r -t "$limit_s" -u "$server_out" line || rc=$?
if ((rc == 1)); then fail "$echo_bin ended without a 'listening' line"; fi
if ((rc != 0)); then fail "no 'listening' line from $echo_bin within ${limit_s}s"; fi
port=${line##*127.0.0.1:}
[[ $line == "echo: listening on 127.0.0.1:"* && $port =~ ^[0-9]+$ ]] ||
  fail "unexpected first line from the server: '$line'"

message="hello, ringloop $$"
exec {sock}<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect to 127.0.0.1:$port"
printf '%s\n' "$message" >&"$sock"
IFS= read -r -t "$limit_s" -u "$sock" reply || fail "no echo within ${limit_s}s"
[[ $reply == "$message" ]] || fail "sent '$message', got back '$reply'"
exec {sock}>&-  # EOF for the server: it closes the connection and exits

# The server's stdout reaches EOF when it exits (read's status: 1 at EOF, above 128
# on timeout).
rc=0
IFS= read -r -t "$limit_s" -u "$server_out" line || rc=$?
if ((rc == 0)) || [[ -n $line ]]; then fail "unexpected output from the server: '$line'"; fi
((rc == 1)) || fail "the server did not exit within ${limit_s}s of the peer's close"
status=0
wait "$pid" || status=$?
pid=
((status == 0)) || fail "the server exited with status $status"
echo "round_trip: OK (port $port)"
