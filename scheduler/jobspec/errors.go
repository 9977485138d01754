package jobspec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FieldError is one problem with one field of a job spec. Path names the
// field the way the YAML spells it ("model.hidden[1]", "dataset.cid"); it
// is empty for problems with the document as a whole (size, syntax). Line
// is the 1-based line in the YAML source, or 0 when unknown.
type FieldError struct {
	Path string `json:"path,omitempty"`
	Msg  string `json:"msg"`
	Line int    `json:"line,omitempty"`
}

// Error formats the error as "line 7: model.hidden[1]: must be …", leaving
// out the parts that are unknown.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// FieldErr builds a FieldError for path with a message formatted like
// fmt.Sprintf, so that checks made outside this package (the daemon's
// "dataset.cid: … is not in the data grid") read like the ones made in it.
func FieldErr(path, format string, args ...any) *FieldError {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// FieldErrors returns every *FieldError in err's tree, in order: err itself,
// the errors it joins (errors.Join) and those it wraps. It returns nil when
// err holds none.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if fe, ok := err.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// joinFieldErrors joins errs with errors.Join, or returns nil when empty.
func joinFieldErrors(errs []*FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	list := make([]error, len(errs))
	for i, e := range errs {
		list[i] = e
	}
	return errors.Join(list...)
}

// under reports whether path is p or a field or element inside p.
func under(path, p string) bool {
	if !strings.HasPrefix(path, p) {
		return false
	}
	rest := path[len(p):]
	return rest == "" || rest[0] == '.' || rest[0] == '['
}

// parent strips the last segment of a path: "model.hidden[1]" gives
// "model.hidden", "model.hidden" gives "model", "model" gives "".
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// quote formats a user-supplied string for a message, cut short so a
// megabyte of garbage does not become a megabyte of error.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}
