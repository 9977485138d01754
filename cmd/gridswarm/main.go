// Command gridswarm is the peer-to-peer grid computing daemon and its CLI.
package main

import (
	"context"
	"os"

	"github.com/gridswarm/gridswarm/cmd/gridswarm/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args[1:], cli.Stdio()))
}
