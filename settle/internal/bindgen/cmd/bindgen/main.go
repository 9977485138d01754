// Command bindgen writes settle/bindings from settle/contracts/artifacts.json.
// Run it through `go generate ./settle/bindings`.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gridswarm/gridswarm/settle/internal/bindgen"
)

func main() {
	in := flag.String("in", "../contracts/artifacts.json", "artifacts written by settle/contracts/compile.js")
	out := flag.String("out", "bindings.go", "Go file to write")
	pkg := flag.String("pkg", "bindings", "Go package name")
	flag.Parse()
	if err := run(*in, *out, *pkg); err != nil {
		fmt.Fprintln(os.Stderr, "bindgen:", err)
		os.Exit(1)
	}
}

func run(in, out, pkg string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("cannot read artifacts (run node settle/contracts/compile.js first): %w", err)
	}
	src, err := bindgen.Generate(b, pkg)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, src, 0o644); err != nil {
		return fmt.Errorf("cannot write bindings: %w", err)
	}
	return nil
}
