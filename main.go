// Command corridor is an L2TP/IPsec VPN client whose whole protocol stack
// runs in userspace. This file stays thin: the front ends live in app/.
package main

import (
	"os"

	"github.com/corridorvpn/corridor/app/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
