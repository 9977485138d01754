package wasm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/sys"
)

// Errors a run can end in. Test for them with errors.Is; each returned error
// wraps exactly one of them (or is an *ExitError) and says in its message what
// happened and what the tasklet author can do about it.
var (
	// ErrBadTask: the Task itself is unusable (missing or non-empty output
	// directory, symlinks among the inputs, ...). The worker is at fault,
	// not the tasklet.
	ErrBadTask = errors.New("bad wasm task")
	// ErrBadModule: the module is too large, is not WebAssembly, fails to
	// compile or validate, or is not a wasip1 command module.
	ErrBadModule = errors.New("bad wasm module")
	// ErrTimeout: the run did not finish within Options.Timeout.
	ErrTimeout = errors.New("wasm tasklet timed out")
	// ErrMemoryLimit: the module needs more linear memory than
	// Options.MemoryLimitPages, either by declaration or by growing.
	ErrMemoryLimit = errors.New("wasm tasklet exceeded its memory limit")
	// ErrOutputTooLarge: /out grew past Options.MaxOutputBytes or past the
	// entry cap.
	ErrOutputTooLarge = errors.New("wasm tasklet output too large")
	// ErrUnsafeOutput: /out holds something other than regular files and
	// directories after the run.
	ErrUnsafeOutput = errors.New("wasm tasklet output unsafe")
	// ErrTrap: the guest trapped (unreachable, out-of-bounds access, stack
	// overflow, ...).
	ErrTrap = errors.New("wasm tasklet trapped")
)

// ExitError reports a tasklet that ran to completion but exited non-zero.
type ExitError struct {
	Code       uint32 // the guest's exit code, never 0
	StderrTail string // the last bytes of its stderr
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("wasm tasklet exited with code %d (stderr tail: %q); "+
		"the tasklet reported a failure: fix it or its inputs and resubmit", e.Code, e.StderrTail)
}

// stderrTailBytes is how much of stderr ExitError keeps.
const stderrTailBytes = 1024

// tail returns the last stderrTailBytes of b as trimmed text.
func tail(b []byte) string {
	if len(b) > stderrTailBytes {
		b = b[len(b)-stderrTailBytes:]
	}
	return strings.TrimSpace(string(b))
}

// excerpt returns stderr for an error message: all of it when short, else
// its start and its end. The start matters for Go, whose fatal errors
// ("fatal error: out of memory") come before pages of goroutine traces.
func excerpt(b []byte) string {
	const half = stderrTailBytes / 2
	if len(b) <= 2*half {
		return strings.TrimSpace(string(b))
	}
	return strings.TrimSpace(string(b[:half])) + " … " + strings.TrimSpace(string(b[len(b)-half:]))
}

// outcome is everything the classification needs to know about one run.
type outcome struct {
	err           error  // from instantiating and calling _start
	cancelled     error  // the caller's context error, if it ended the run
	limits        limits // what the run was held to
	memRefused    uint64 // largest linear memory size refused, in bytes; 0 if none
	outputRefused error  // why /out refused a write, if it did
	stderr        []byte
}

// limits are the executor options a run is held to, as plain data.
type limits struct {
	memoryPages uint32
	timeout     string // Options.Timeout as text, for messages only
	maxOutput   int64
}

// classify turns how a run ended into the error Run returns (nil for exit
// code 0) and the exit code it reports. The order matters: a timeout or an
// exhausted limit usually makes the guest fail in some secondary way (Go
// exits with code 2 after "out of memory", a write error after a full /out),
// and the limit is the reason the author needs to hear.
func classify(o outcome) (uint32, error) {
	var exit *sys.ExitError
	isExit := errors.As(o.err, &exit)
	switch {
	case o.cancelled != nil:
		return 0, fmt.Errorf("run wasm tasklet: cancelled by caller: %w", o.cancelled)
	case isExit && exit.ExitCode() == sys.ExitCodeDeadlineExceeded:
		return 0, fmt.Errorf("%w: it ran longer than %s and was stopped; make it finish sooner "+
			"or split the work into smaller tasklets", ErrTimeout, o.limits.timeout)
	case o.err != nil && o.memRefused > 0:
		return exitCodeOf(exit, isExit), fmt.Errorf("%w: it tried to grow its memory to %s but the limit is %s; "+
			"reduce its memory use (stderr: %q)", ErrMemoryLimit,
			byteSize(o.memRefused), byteSize(pagesToBytes(o.limits.memoryPages)), excerpt(o.stderr))
	case o.outputRefused != nil:
		// Even after exit code 0: the output is missing what was refused.
		return exitCodeOf(exit, isExit), fmt.Errorf("%w: %v; write less to /out (stderr: %q)",
			ErrOutputTooLarge, o.outputRefused, excerpt(o.stderr))
	case o.err == nil:
		return 0, nil
	case errors.Is(o.err, ErrBadModule), errors.Is(o.err, ErrTrap):
		return 0, o.err
	case isExit:
		return exit.ExitCode(), &ExitError{Code: exit.ExitCode(), StderrTail: tail(o.stderr)}
	default:
		return 0, fmt.Errorf("%w: %v; fix the bug in the tasklet (stderr: %q)",
			ErrTrap, firstLine(o.err.Error()), excerpt(o.stderr))
	}
}

func exitCodeOf(exit *sys.ExitError, ok bool) uint32 {
	if !ok {
		return 0
	}
	return exit.ExitCode()
}

// firstLine drops wazero's multi-line wasm stack trace from a trap message;
// the stack trace stays available to whoever logs the full error.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func pagesToBytes(pages uint32) uint64 { return uint64(pages) << 16 }

// byteSize prints n in the largest binary unit that divides it evenly
// enough to read, e.g. "32 MiB" or "1.5 GiB".
func byteSize(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return strings.TrimSuffix(strings.TrimSuffix(
		fmt.Sprintf("%.2f", float64(n)/float64(div)), "0"), ".0") + " " + "KMGTPE"[exp:exp+1] + "iB"
}
