#!/bin/sh
# The image's entry point: one line saying what to run when /results cannot be written (Docker creates a
# missing bind-mount source root-owned), instead of a PermissionError traceback from deep inside a suite.
case "${1:-}" in
  --help | -h | --version | "") exec mike-bench "$@" ;;
esac
if ! touch /results/.mike-bench-write-check 2>/dev/null; then
  echo "mike-bench: error: /results is not writable by uid $(id -u) (it belongs to uid $(stat -c %u /results)):" \
    "create it yourself (mkdir -p results) and run with --user \"\$(id -u):\$(id -g)\"" >&2
  exit 2
fi
rm -f /results/.mike-bench-write-check
exec mike-bench "$@"
