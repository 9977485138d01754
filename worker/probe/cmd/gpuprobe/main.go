// Command gpuprobe prints what gridswarm's probe finds on this machine, as
// JSON: GPUs (through NVML), driver and CUDA versions, CPU cores, memory and
// the free disk space of -repo.
//
//	go run ./worker/probe/cmd/gpuprobe -repo ~/.gridswarm
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/gridswarm/gridswarm/worker/probe"
)

func main() {
	repo := flag.String("repo", ".", "directory whose file system's free space is reported")
	timeout := flag.Duration("timeout", 30*time.Second, "give up after this long")
	flag.Parse()
	if err := run(*repo, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "gpuprobe:", err)
		os.Exit(1)
	}
}

func run(repo string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p, err := probe.Run(ctx, probe.Options{RepoDir: repo})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}
