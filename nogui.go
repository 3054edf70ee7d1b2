//go:build nogui

package main

import (
	"fmt"
	"os"
)

// runGUI: a build with -tags nogui (the command line and the helper only,
// no cgo, built in a fraction of the time) has no desktop app.
func runGUI([]string) int {
	fmt.Fprintln(os.Stderr, "corridor: this build has no desktop app (built with -tags nogui); see corridor --help for the command line")
	return 2
}
