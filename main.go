// Command corridor is an L2TP/IPsec VPN client whose whole protocol stack
// runs in userspace. This file stays thin: the front ends live in app/.
// Without arguments (or with "gui") it is the desktop app; anything else
// is the command line. Built with -tags nogui it is the command line and
// the helper only (no Fyne, no cgo).
package main

import (
	"os"

	"github.com/corridorvpn/corridor/app/cli"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] == "gui" {
		os.Exit(runGUI(guiArgs(os.Args)))
	}
	os.Exit(cli.Main(os.Args[1:]))
}

func guiArgs(args []string) []string {
	if len(args) < 2 {
		return nil
	}
	return args[2:]
}
