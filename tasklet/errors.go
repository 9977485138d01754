package tasklet

import (
	"errors"
	"fmt"
)

// Reasons a worker declines an offer (DeclinedError.Reason). The first
// four come from ServiceConfig.Admit and the executor table; the rest from
// the checks on the offer itself.
const (
	ReasonBusy                = "busy"                 // no free slot
	ReasonNotIdle             = "not-idle"             // the contributor is using the machine
	ReasonUnsupportedExecutor = "unsupported-executor" // Spec.Executor is not enabled here
	ReasonOverQuota           = "over-quota"           // inputs or output would not fit the storage quota
	ReasonUnwritable          = "unwritable"           // the worker cannot write to its data grid (read-only disk or folder)
	ReasonMalformed           = "malformed"            // not a valid message, offer or spec
	ReasonBadSignature        = "bad-signature"        // unsigned, badly signed, or signed by another peer than the stream's
	ReasonReplayed            = "replayed"             // this offer's nonce was seen before
	ReasonExpired             = "expired"              // the offer or the tasklet's deadline has passed
	ReasonUnderpriced         = "underpriced"          // the offer pays less than the worker's minimum price
)

// Reasons a worker gives up on an accepted tasklet (FailedError.Reason).
const (
	FailFetch    = "fetch-failed"      // an input could not be brought local
	FailExecutor = "executor-failed"   // the executor returned an error
	FailDeadline = "deadline-exceeded" // Spec.Deadline passed during the run
	FailOutput   = "bad-output"        // the executor's output is unusable (e.g. not a CID)
	FailSign     = "sign-failed"       // the receipt could not be signed
	FailShutdown = "shutting-down"     // the worker's service is closing
)

// A Fetch or Executor error that wraps a *FailedError is reported with that
// error's Reason (such as ReasonOverQuota or ReasonUnwritable) instead of
// FailFetch or FailExecutor, so the coordinator learns why the worker could
// not store what the tasklet needs.

// ErrWorkerLost means the worker went silent for longer than
// OfferOptions.HeartbeatTimeout, or its stream or connection died, before
// it sent a receipt. The tasklet should be offered elsewhere.
var ErrWorkerLost = errors.New("worker lost")

// ErrBadReceipt means the worker sent a receipt that does not match the
// tasklet or does not carry a valid signature from the expected worker.
var ErrBadReceipt = errors.New("bad receipt")

// ErrCancelled is the cause of a run's context when the coordinator sent
// cancel.
var ErrCancelled = errors.New("tasklet cancelled by the coordinator")

// DeclinedError is a worker's refusal of an offer, with a Reason constant
// and a human-readable Detail.
type DeclinedError struct {
	Reason string
	Detail string
}

func (e *DeclinedError) Error() string {
	if e.Detail == "" {
		return "worker declined the tasklet: " + e.Reason
	}
	return fmt.Sprintf("worker declined the tasklet: %s (%s)", e.Reason, e.Detail)
}

// IsDeclined reports whether err is or wraps a *DeclinedError.
func IsDeclined(err error) bool {
	var d *DeclinedError
	return errors.As(err, &d)
}

// FailedError is a worker's report that an accepted tasklet did not finish,
// with a Fail* Reason and a Detail.
type FailedError struct {
	Reason string
	Detail string
}

func (e *FailedError) Error() string {
	if e.Detail == "" {
		return "worker failed the tasklet: " + e.Reason
	}
	return fmt.Sprintf("worker failed the tasklet: %s (%s)", e.Reason, e.Detail)
}

// IsFailed reports whether err is or wraps a *FailedError.
func IsFailed(err error) bool {
	var f *FailedError
	return errors.As(err, &f)
}

func declined(reason, format string, args ...any) *DeclinedError {
	return &DeclinedError{Reason: reason, Detail: truncate(fmt.Sprintf(format, args...), MaxDetailLen-4)}
}
