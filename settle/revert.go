package settle

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
)

// RevertError is a contract call or transaction the contract refused, with
// its decoded custom error (for example *bindings.JobEscrowNothingToClaim).
type RevertError struct {
	Op     string // what was being done: "claim", "post root", ...
	Reason any    // decoded custom error, or nil when it could not be decoded
	Data   []byte // raw revert data
}

func (e *RevertError) Error() string {
	if e.Reason == nil {
		return fmt.Sprintf("%s: contract reverted (data %s)", e.Op, hexutil.Encode(e.Data))
	}
	return fmt.Sprintf("%s: contract refused: %s", e.Op, describe(e.Reason))
}

// describe renders a decoded custom error as Name{Field: value, ...}.
func describe(reason any) string {
	v := reflect.Indirect(reflect.ValueOf(reason))
	if v.Kind() != reflect.Struct {
		return fmt.Sprint(reason)
	}
	name := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(v.Type().Name(), "JobEscrow"), "WorkerStake"), "GridToken")
	var b strings.Builder
	b.WriteString(name)
	if v.NumField() > 0 {
		b.WriteString("{")
		for i := 0; i < v.NumField(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s: %v", v.Type().Field(i).Name, v.Field(i).Interface())
		}
		b.WriteString("}")
	}
	return b.String()
}

// IsRevert reports whether err is a contract refusal whose decoded reason
// has type T, and returns it.
func IsRevert[T any](err error) (*T, bool) {
	var re *RevertError
	if !errors.As(err, &re) {
		return nil, false
	}
	r, ok := re.Reason.(*T)
	return r, ok
}

// errorDecoders try, in order, each of our contracts' custom errors (a
// call can revert with an error of a contract it called: the registry's,
// the token's).
type errorDecoders []func([]byte) (any, error)

func newErrorDecoders(c *contracts) errorDecoders {
	return errorDecoders{c.escrow.UnpackError, c.stake.UnpackError, c.registry.UnpackError, c.token.UnpackError}
}

// asRevert turns a node's "execution reverted" error carrying revert data
// into a *RevertError; other errors are wrapped with op.
func (decoders errorDecoders) asRevert(op string, err error) error {
	var de rpc.DataError
	if errors.As(err, &de) {
		if s, ok := de.ErrorData().(string); ok {
			if data, derr := hexutil.Decode(s); derr == nil && len(data) >= 4 {
				return decoders.fromData(op, data)
			}
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

func (decoders errorDecoders) fromData(op string, data []byte) error {
	for _, dec := range decoders {
		if r, err := dec(data); err == nil {
			return &RevertError{Op: op, Reason: r, Data: data}
		}
	}
	return &RevertError{Op: op, Data: data}
}
