#!/usr/bin/env bash
# make chaos: every dependency fault of package chaos under a flash sale
# (see README "Faults"). Prints one line per fault and, last,
# "chaos: <held> of <total> held"; exits non-zero when an invariant failed.
set -u
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go test -c -o "$work/chaos.test" ./chaos/ || exit 1
(cd chaos && "$work/chaos.test" -test.run '^TestFaults$' -test.timeout 10m) >"$work/chaos.log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
	echo "--- the suite's output (last 40 lines):"
	grep -vE '^(fault |    problem:|chaos: )' "$work/chaos.log" | tail -n 40
	echo "---"
fi
grep -E '^(fault |    problem:|chaos: )' "$work/chaos.log"
if ! grep -q '^chaos: ' "$work/chaos.log"; then
	echo "chaos: the suite stopped before its tally (exit $rc)"
fi
exit $rc
