#!/usr/bin/env bash
# Shows the Fyne 2.8.1 quit hang that app/desktop/quitguard.go guards
# against, and that the guard ends it. It copies Fyne from the module cache
# to a temporary folder, widens the race window there (a 5 ms sleep in
# runGL between draining the main-thread queue and marking it drained,
# internal/driver/glfw/loop.go), builds Corridor against that copy
# (GOFLAGS=-modfile=..., go.mod is untouched) and runs the desktop app's
# quit tests (build/guitest) with it:
#   - with the guard (GUARD=on, the default), the tests pass and
#     TestWindowAndTray logs "the quit guard ended the app";
#   - GUARD=off disables the guard (CORRIDOR_NO_QUIT_GUARD=1): both tests
#     fail with "still runs 15 s after ..." and the app's goroutines show
#     Run waiting in Lifecycle.WaitForEvents.
# Needs what build/guitest needs (build/setup.sh). Takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."

ver=$(go list -m -f '{{.Version}}' fyne.io/fyne/v2)
src=$(go list -m -f '{{.Dir}}' fyne.io/fyne/v2)
work=$(mktemp -d /tmp/corridor-fyne-race.XXXXXX)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$src" "$work/fyne"
chmod -R u+w "$work/fyne"
loop="$work/fyne/internal/driver/glfw/loop.go"
grep -q '^			drained.Store(true)$' "$loop" || {
	echo "fyne-quit-race: Fyne $ver's loop.go has no drained.Store(true) line; the race this script widens may be gone" >&2
	exit 1
}
sed -i 's/^\t\t\tdrained.Store(true)$/\t\t\ttime.Sleep(5 * time.Millisecond) \/\/ fyne-quit-race.sh: widen the window\n\t\t\tdrained.Store(true)/' "$loop"
cp go.mod "$work/race.mod"
cp go.sum "$work/race.sum"
echo "replace fyne.io/fyne/v2 => $work/fyne" >>"$work/race.mod"

echo "fyne-quit-race: Fyne $ver with the race window widened; guard ${GUARD:-on}"
extra=()
[ "${GUARD:-on}" = off ] && extra=(CORRIDOR_NO_QUIT_GUARD=1)
env "${extra[@]}" GOFLAGS="-modfile=$work/race.mod" \
	go test -count=1 -v -timeout 10m -run 'TestWindowAndTray$|TestCloseWithoutTrayQuits$' ./build/guitest
