//go:build !linux

package platform

// No kill switch here yet (pf on macOS, WFP on Windows would do it).
const killSwitchSupported = false
