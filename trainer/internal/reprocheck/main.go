// Command reprocheck prints the digest of the trainer's fixed
// reproducibility scenario (see package reprocase). Builds of the trainer
// for different CPUs must print the same line.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/gridswarm/gridswarm/trainer/internal/reprocase"
)

func main() {
	d, err := reprocase.Digest(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "reprocheck:", err)
		os.Exit(1)
	}
	fmt.Println(d)
}
