package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"

	"github.com/gridswarm/gridswarm/scheduler/jobspec"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/trainer/contract"
	"github.com/gridswarm/gridswarm/verify"
)

// Program jobs (executor wasm or process) run round by round like builtin
// ones: same plan, placement, retries and spot checks. What differs is at
// the two ends of a tasklet:
//
//	spec ─► inputs program, weights.safetensors, shard.safetensors;
//	        params: contract.ProgramTask (args or command, and the job's
//	        model and inner settings for params.json)
//	output ◄─ a folder: delta.safetensors + metrics.json, checked with
//	        contract.CheckDeltaBytes and ParseMetrics before the outer step
//
// The job's model (required) is the network the program trains, named and
// shaped as the built-in trainer's: the coordinator builds the first
// weights from it (trainer.Init with the job's seed) and evaluates the
// averaged weights with the built-in evaluator on the validation and test
// splits, so a program job reports accuracy like a builtin one.

// ProcessProgramPath is where a process tasklet's program lies inside the
// sandbox, relative to its working folder (/tasklet, or the scratch
// folder when unsandboxed): the "program" input.
const ProcessProgramPath = "in/" + contract.ProgramFile

// isProgram reports whether spec runs a user's program.
func isProgram(spec *jobspec.Spec) bool {
	return spec.Executor == jobspec.ExecutorWasm || spec.Executor == jobspec.ExecutorProcess
}

// checkCoordinated refuses a job this coordinator cannot drive.
func checkCoordinated(spec *jobspec.Spec) error {
	switch {
	case spec.Executor == jobspec.ExecutorBuiltin:
		return nil
	case !isProgram(spec):
		return jobspec.FieldErr("executor", "%q jobs cannot be coordinated; use builtin, wasm or process", spec.Executor)
	case spec.Model == nil:
		return jobspec.FieldErr("model", "is required to coordinate a %s job: give the kind, inputs, hidden and classes of the network the program trains (its tensors named and shaped as the built-in trainer's, docs/programs.md); the coordinator builds the first weights from it and reports accuracy with it", spec.Executor)
	case spec.Program == nil:
		return jobspec.FieldErr("program", "is required for executor %s: give the program's cid and its args", spec.Executor)
	case spec.Executor == jobspec.ExecutorProcess && len(spec.Program.Args) == 0:
		return jobspec.FieldErr("program.args", "is empty: a process job's first argument is the command that runs the program (python3, say), which workers must allow")
	}
	return nil
}

// TaskletParams is the Spec.Params of a job's tasklets.
func TaskletParams(spec *jobspec.Spec) (json.RawMessage, error) {
	if !isProgram(spec) {
		return BuiltinParams(spec)
	}
	b, err := BuiltinParams(spec)
	if err != nil {
		return nil, err
	}
	var train contract.Params
	if err := json.Unmarshal(b, &train); err != nil {
		return nil, err
	}
	task := contract.ProgramTask{Train: &train}
	if spec.Executor == jobspec.ExecutorWasm {
		task.Args = spec.Program.Args
	} else {
		args := spec.Program.Args
		task.Command = append([]string{args[0], ProcessProgramPath}, args[1:]...)
	}
	return json.Marshal(task)
}

// programInputs are a program tasklet's inputs, named as the program
// finds them.
func programInputs(spec *jobspec.Spec, t Tasklet, weights string, weightsBytes, shardBytes uint64) []tasklet.Input {
	return []tasklet.Input{
		{Name: contract.ProgramFile, CID: spec.Program.CID},
		{Name: contract.ProgramWeights, CID: weights, Size: weightsBytes},
		{Name: contract.ProgramShard, CID: t.Shard, Size: shardBytes},
	}
}

// errBadOutput marks outputs that break the contract: the output is left
// out of the outer step and its worker charged, not fetched again.
var errBadOutput = errors.New("bad output")

// loadOutput fetches a tasklet's output and returns the local weights it
// stands for and the bytes read. A builtin output is the local weights; a
// program's is a folder whose delta is checked against the round's
// weights (weightsFile, their safetensors bytes) and added to global.
func (c *Coordinator) loadOutput(ctx context.Context, spec *jobspec.Spec, out string, global trainer.Params, weightsFile []byte, from ...string) (trainer.Params, int64, error) {
	m := modelOf(spec)
	if !isProgram(spec) {
		return c.loadParamsN(ctx, out, m, from...)
	}
	root, err := cid.Decode(out)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: output CID %q: %v", errBadOutput, out, err)
	}
	entries, err := c.grid.ListDir(ctx, root)
	if err != nil {
		return nil, 0, err
	}
	de, ok := entries[contract.ProgramDelta]
	if !ok {
		return nil, 0, fmt.Errorf("%w: %v: the output folder holds no %s", errBadOutput, contract.ErrContract, contract.ProgramDelta)
	}
	me, ok := entries[contract.ProgramMetrics]
	if !ok {
		return nil, 0, fmt.Errorf("%w: %v: the output folder holds no %s", errBadOutput, contract.ErrContract, contract.ProgramMetrics)
	}
	mb, err := c.grid.ReadFile(ctx, me.CID, contract.MaxMetricsBytes, from...)
	if err != nil {
		return nil, 0, err
	}
	if _, err := contract.ParseMetrics(mb); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", errBadOutput, err)
	}
	db, err := c.grid.ReadFile(ctx, de.CID, contract.MaxInputBytes, from...)
	if err != nil {
		return nil, 0, err
	}
	if err := contract.CheckDeltaBytes(weightsFile, db); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", errBadOutput, err)
	}
	delta, err := contract.DecodeParams(db, m)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v: %s: %v", errBadOutput, contract.ErrContract, contract.ProgramDelta, err)
	}
	local := global.Clone()
	for i := range local {
		for j, d := range delta[i].Data {
			local[i].Data[j] += d
		}
	}
	return local, int64(len(db) + len(mb)), nil
}

// DefaultProcessTolerance is how far apart two replicas of a process
// tasklet may be and still agree (relative L2 distance of the deltas,
// absolute loss difference) when their bytes differ: PyTorch on
// different GPUs or CPU libraries rounds differently. It is provisional,
// not calibrated on GPUs yet: verify.Calibrate derives one from honest
// replica pairs. Replicas on CPUs of one build agree bit for bit.
var DefaultProcessTolerance = verify.Tolerance{RelL2: 1e-3, Loss: 1e-3}

// toleranceOf is the comparator's tolerance for a job's tasklets.
func toleranceOf(spec *jobspec.Spec) verify.Tolerance {
	if spec.Executor == jobspec.ExecutorProcess {
		return DefaultProcessTolerance
	}
	return verify.Tolerance{}
}

// decodedDelta is VerifyConfig.Decoded.
func (rn *roundRunner) decodedDelta(output string) *verify.Delta {
	rn.decMu.Lock()
	defer rn.decMu.Unlock()
	return rn.decoded[output]
}

// decodeForCheck fetches and decodes, for a spot-checked tasklet of a
// tolerance class, the deltas the vote will compare when res's output
// differs from a result the check already holds: equal bytes agree without
// them. A delta that cannot be had is left out: the comparator then reports
// the outputs as not decoded, and the vote goes on without it.
func (rn *roundRunner) decodeForCheck(ctx context.Context, res attemptResult) {
	c, r := rn.c, rn.r
	if rn.m.cfg.Verify.Comparator.Class.Exact() || !isProgram(r.spec) {
		return
	}
	r.mu.Lock()
	var need []CheckResult // outputs of the check not decoded yet, res's included
	if ck := r.job.Rounds[rn.round].Tasklets[res.index].Check; ck != nil {
		differ := false
		for _, cr := range ck.Results {
			differ = differ || cr.Output != res.rcpt.OutputCID
		}
		if differ {
			need = append(need, ck.Results...)
			need = append(need, CheckResult{Peer: res.peer, Output: res.rcpt.OutputCID, Receipt: res.rcpt})
		}
	}
	r.mu.Unlock()
	for _, cr := range need {
		if rn.decodedDelta(cr.Output) != nil {
			continue
		}
		fctx, cancel := context.WithTimeout(ctx, outputFetchTimeout)
		delta, err := c.loadDelta(fctx, r.spec, cr.Output, cr.Peer)
		cancel()
		if err != nil {
			c.log.Warn("cannot decode a spot-checked output to compare it", "job", r.job.ID, "round", rn.round, "tasklet", res.index, "peer", cr.Peer, "err", err)
			continue
		}
		rn.decMu.Lock()
		rn.decoded[cr.Output] = &verify.Delta{Params: delta, Loss: cr.Receipt.Loss()}
		rn.decMu.Unlock()
	}
}

// loadDelta fetches a program output's delta.safetensors, decoded for the
// job's model.
func (c *Coordinator) loadDelta(ctx context.Context, spec *jobspec.Spec, out string, from ...string) (trainer.Params, error) {
	root, err := cid.Decode(out)
	if err != nil {
		return nil, fmt.Errorf("output CID %q: %w", out, err)
	}
	entries, err := c.grid.ListDir(ctx, root)
	if err != nil {
		return nil, err
	}
	de, ok := entries[contract.ProgramDelta]
	if !ok {
		return nil, fmt.Errorf("%w: the output folder holds no %s", contract.ErrContract, contract.ProgramDelta)
	}
	db, err := c.grid.ReadFile(ctx, de.CID, contract.MaxInputBytes, from...)
	if err != nil {
		return nil, err
	}
	return contract.DecodeParams(db, modelOf(spec))
}

// programFailureQuorum is how many distinct workers must report that a
// tasklet's program refused its inputs or diverged before the job fails:
// one worker could lie to end a stranger's job; two agreeing are the
// program's own doing, and further attempts would only repeat it.
const programFailureQuorum = 2

// programFailed notes a program's own failure (contract exit statuses 2
// and 3, reported as contract.FailBadInput or FailDiverged) and returns
// the job's error once programFailureQuorum workers reported it for one
// tasklet. Other failures are the machine's to retry.
func (rn *roundRunner) programFailed(res attemptResult) error {
	var f *tasklet.FailedError
	if !isProgram(rn.r.spec) || !errors.As(res.err, &f) || (f.Reason != contract.FailBadInput && f.Reason != contract.FailDiverged) {
		return nil
	}
	if rn.failedBy == nil {
		rn.failedBy = map[int]map[string]string{}
	}
	if rn.failedBy[res.index] == nil {
		rn.failedBy[res.index] = map[string]string{}
	}
	rn.failedBy[res.index][res.peer] = f.Detail
	if len(rn.failedBy[res.index]) < programFailureQuorum {
		return nil
	}
	what := fmt.Sprintf("the program refused its inputs (exit status %d) on %d workers", contract.ExitBadInput, len(rn.failedBy[res.index]))
	fix := "fix the program or the job's program.args, model or inner settings, and submit again"
	if f.Reason == contract.FailDiverged {
		what = fmt.Sprintf("training diverged (exit status %d) on %d workers", contract.ExitDiverged, len(rn.failedBy[res.index]))
		fix = "lower inner_optimizer.lr and submit again"
	}
	return fmt.Errorf("round %d tasklet %d: %s: %s; %s", rn.round+1, res.index, what, f.Detail, fix)
}
