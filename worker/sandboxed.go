package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/gridswarm/gridswarm/datagrid"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/trainer/contract"
	"github.com/gridswarm/gridswarm/worker/process"
	"github.com/gridswarm/gridswarm/worker/wasm"
)

// InputProgram names the WASM module among a wasm tasklet's inputs.
const InputProgram = "program"

// maxProgramBytes caps a WASM module read into memory.
const maxProgramBytes = wasm.MaxModuleBytes

// SandboxParams are the Spec.Params of wasm and process tasklets.
type SandboxParams = contract.ProgramTask

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

// layInputs writes every input but the program into dir by its name, and
// params.json when the tasklet is part of a coordinated program job.
func layInputs(ctx context.Context, g *datagrid.Grid, spec tasklet.Spec, p SandboxParams, dir string) (map[string]string, error) {
	files := map[string]string{}
	if p.Train != nil {
		b, err := json.Marshal(p.Train)
		if err != nil {
			return nil, fmt.Errorf("cannot encode %s: %w", contract.ProgramParams, err)
		}
		f := filepath.Join(dir, contract.ProgramParams)
		if err := os.WriteFile(f, b, 0o644); err != nil {
			return nil, fmt.Errorf("cannot write %s: %w", contract.ProgramParams, err)
		}
		files[contract.ProgramParams] = f
	}
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
	if _, err := layInputs(ctx, e.grid, spec, p, in); err != nil {
		return tasklet.Output{}, err
	}
	if _, err := e.x.Run(ctx, wasm.Task{Module: module, Args: p.Args, Seed: spec.Seed, InputDir: in, OutputDir: out}); err != nil {
		var x *wasm.ExitError
		if errors.As(err, &x) {
			return tasklet.Output{}, programFailure(int(x.Code), err)
		}
		return tasklet.Output{}, err
	}
	return storeProgramOutput(ctx, e.grid, p, filepath.Join(in, contract.ProgramWeights), out)
}

// storeProgramOutput adds a program's output folder to the grid. For a
// coordinated job (p.Train set) it first checks the outputs against the
// contract, so a program that breaks it fails here with the reason rather
// than at the coordinator, and reports the metrics' loss and samples in
// the receipt.
func storeProgramOutput(ctx context.Context, g *datagrid.Grid, p SandboxParams, weightsFile, out string) (tasklet.Output, error) {
	var res tasklet.Output
	if p.Train != nil {
		m, err := checkProgramOutput(weightsFile, out)
		if err != nil {
			return res, err
		}
		res.Samples, res.Loss = uint64(m.Samples), float32(m.Loss)
		res.Metrics = map[string]float64{"steps": float64(m.Steps)}
	}
	r, err := g.AddPath(ctx, out, nil)
	if err != nil {
		return res, fmt.Errorf("cannot store the output: %w", err)
	}
	res.CID = r.Root.String()
	return res, nil
}

// checkProgramOutput checks delta.safetensors against the weights and
// parses metrics.json.
func checkProgramOutput(weightsFile, out string) (contract.ProgramMetricsFile, error) {
	var m contract.ProgramMetricsFile
	mb, err := readCapped(filepath.Join(out, contract.ProgramMetrics), contract.MaxMetricsBytes)
	if err != nil {
		return m, fmt.Errorf("%w: %v", contract.ErrContract, err)
	}
	if m, err = contract.ParseMetrics(mb); err != nil {
		return m, err
	}
	wb, err := os.ReadFile(weightsFile)
	if err != nil {
		return m, fmt.Errorf("cannot read the tasklet's weights: %w", err)
	}
	db, err := readCapped(filepath.Join(out, contract.ProgramDelta), contract.MaxInputBytes)
	if err != nil {
		return m, fmt.Errorf("%w: %v", contract.ErrContract, err)
	}
	return m, contract.CheckDeltaBytes(wb, db)
}

// readCapped reads a file of at most max bytes.
func readCapped(path string, max int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("the program wrote no %s", filepath.Base(path))
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s is %d bytes, over the %d-byte limit", filepath.Base(path), fi.Size(), max)
	}
	return os.ReadFile(path)
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
	files, err := layInputs(ctx, e.grid, spec, p, work)
	if err != nil {
		return tasklet.Output{}, err
	}
	res, err := e.x.Run(ctx, process.Task{Command: p.Command, Inputs: files, Seed: spec.Seed})
	defer res.Cleanup()
	if err != nil {
		var x *process.ExitError
		if errors.As(err, &x) {
			return tasklet.Output{}, programFailure(x.Code, withStderr(err, res.Stderr))
		}
		return tasklet.Output{}, withStderr(err, res.Stderr)
	}
	return storeProgramOutput(ctx, e.grid, p, files[contract.ProgramWeights], res.OutputDir)
}

// programFailure tells the coordinator, through the failure's reason, that
// the program itself refused its inputs or diverged (contract exit
// statuses 2 and 3); other statuses keep err as it is.
func programFailure(status int, err error) error {
	if r := contract.ExitReason(status); r != "" {
		return &tasklet.FailedError{Reason: r, Detail: err.Error()}
	}
	return err
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
