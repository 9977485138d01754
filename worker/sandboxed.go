package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/gridswarm/gridswarm/datagrid"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/worker/process"
	"github.com/gridswarm/gridswarm/worker/wasm"
)

// InputProgram names the WASM module among a wasm tasklet's inputs.
const InputProgram = "program"

// maxProgramBytes caps a WASM module read into memory.
const maxProgramBytes = wasm.MaxModuleBytes

// SandboxParams are the Spec.Params of wasm and process tasklets.
type SandboxParams struct {
	Args    []string `json:"args,omitempty"`    // wasm: argv after argv[0]
	Command []string `json:"command,omitempty"` // process: argv, argv[0] on the allowlist
}

func parseSandboxParams(b []byte) (SandboxParams, error) {
	var p SandboxParams
	if len(b) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("params: %w", err)
	}
	return p, nil
}

// layInputs writes every input but the program into dir by its name.
func layInputs(ctx context.Context, g *datagrid.Grid, spec tasklet.Spec, dir string) (map[string]string, error) {
	files := map[string]string{}
	for _, in := range spec.Inputs {
		if in.Name == InputProgram && spec.Executor == tasklet.ExecutorWasm {
			continue
		}
		c, err := cid.Decode(in.CID)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", in.Name, err)
		}
		if filepath.Base(in.Name) != in.Name || in.Name == "." || in.Name == ".." {
			return nil, fmt.Errorf("input name %q must be a plain file name", in.Name)
		}
		p := filepath.Join(dir, in.Name)
		if err := g.Get(ctx, c, p, datagrid.GetOptions{}); err != nil {
			return nil, fmt.Errorf("input %s: %w", in.Name, err)
		}
		files[in.Name] = p
	}
	return files, nil
}

// wasmExecutor runs wasm tasklets: inputs at /in, the output folder is
// added to the grid.
type wasmExecutor struct {
	x    *wasm.Executor
	grid *datagrid.Grid
}

func (e *wasmExecutor) Run(ctx context.Context, spec tasklet.Spec, _ func(done, total int)) (tasklet.Output, error) {
	p, err := parseSandboxParams(spec.Params)
	if err != nil {
		return tasklet.Output{}, err
	}
	var prog cid.Cid
	for _, in := range spec.Inputs {
		if in.Name == InputProgram {
			if prog, err = cid.Decode(in.CID); err != nil {
				return tasklet.Output{}, fmt.Errorf("input program: %w", err)
			}
		}
	}
	if !prog.Defined() {
		return tasklet.Output{}, fmt.Errorf("a wasm tasklet needs an input named %q holding the module", InputProgram)
	}
	module, err := e.grid.ReadFile(ctx, prog, maxProgramBytes)
	if err != nil {
		return tasklet.Output{}, err
	}
	work, err := os.MkdirTemp("", "gridswarm-wasm-")
	if err != nil {
		return tasklet.Output{}, fmt.Errorf("cannot make a scratch folder: %w", err)
	}
	defer os.RemoveAll(work)
	in, out := filepath.Join(work, "in"), filepath.Join(work, "out")
	for _, d := range []string{in, out} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return tasklet.Output{}, fmt.Errorf("cannot make %s: %w", d, err)
		}
	}
	if _, err := layInputs(ctx, e.grid, spec, in); err != nil {
		return tasklet.Output{}, err
	}
	if _, err := e.x.Run(ctx, wasm.Task{Module: module, Args: p.Args, Seed: spec.Seed, InputDir: in, OutputDir: out}); err != nil {
		return tasklet.Output{}, err
	}
	r, err := e.grid.AddPath(ctx, out, nil)
	if err != nil {
		return tasklet.Output{}, fmt.Errorf("cannot store the output: %w", err)
	}
	return tasklet.Output{CID: r.Root.String()}, nil
}

// processExecutor runs opt-in process tasklets the same way.
type processExecutor struct {
	x    *process.Executor
	grid *datagrid.Grid
}

func (e *processExecutor) Run(ctx context.Context, spec tasklet.Spec, _ func(done, total int)) (tasklet.Output, error) {
	p, err := parseSandboxParams(spec.Params)
	if err != nil {
		return tasklet.Output{}, err
	}
	if len(p.Command) == 0 {
		return tasklet.Output{}, fmt.Errorf("a process tasklet needs params.command")
	}
	work, err := os.MkdirTemp("", "gridswarm-process-in-")
	if err != nil {
		return tasklet.Output{}, fmt.Errorf("cannot make a scratch folder: %w", err)
	}
	defer os.RemoveAll(work)
	files, err := layInputs(ctx, e.grid, spec, work)
	if err != nil {
		return tasklet.Output{}, err
	}
	res, err := e.x.Run(ctx, process.Task{Command: p.Command, Inputs: files, Seed: spec.Seed})
	defer res.Cleanup()
	if err != nil {
		return tasklet.Output{}, withStderr(err, res.Stderr)
	}
	r, err := e.grid.AddPath(ctx, res.OutputDir, nil)
	if err != nil {
		return tasklet.Output{}, fmt.Errorf("cannot store the output: %w", err)
	}
	return tasklet.Output{CID: r.Root.String()}, nil
}

// withStderr adds the last line the program wrote to stderr (a Python
// traceback's exception, say) to err, so the reason a tasklet failed
// reaches whoever submitted it.
func withStderr(err error, stderr []byte) error {
	lines := strings.Split(strings.TrimSpace(string(stderr)), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if last == "" {
		return err
	}
	const max = 300
	if len(last) > max {
		last = last[:max] + "…"
	}
	return fmt.Errorf("%w; its stderr ends: %q", err, last)
}
