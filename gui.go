//go:build !nogui

package main

import "github.com/corridorvpn/corridor/app/desktop"

// runGUI starts the desktop app.
func runGUI(args []string) int { return desktop.Main(args) }
