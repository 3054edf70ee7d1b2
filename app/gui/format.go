package gui

import (
	"fmt"
	"strconv"
)

// formatBytes writes a byte count with SI units: 999 B, 1.2 kB, 3.4 MB.
func formatBytes(n uint64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"kB", "MB", "GB", "TB"} {
		f /= unit
		if f < unit {
			if f < 10 {
				return fmt.Sprintf("%.1f %s", f, u)
			}
			return fmt.Sprintf("%.0f %s", f, u)
		}
	}
	return fmt.Sprintf("%.0f PB", f/unit)
}

// formatRate writes bytes per second.
func formatRate(r float64) string {
	if r < 0 {
		r = 0
	}
	return formatBytes(uint64(r+0.5)) + "/s"
}

// formatCount writes a count with thousands separators: 1,234,567.
func formatCount(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// ipv6Part is the IPv6 share of a counter, " · IPv6 1.2 kB", or "" when
// no IPv6 packet went that way.
func ipv6Part(bytes, packets uint64) string {
	if packets == 0 {
		return ""
	}
	return " · IPv6 " + formatBytes(bytes)
}
