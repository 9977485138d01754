package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// status --wait retries until the daemon answers, stops at once on an
// error that waiting cannot fix, and gives up after the wait.
func TestRetryUntil(t *testing.T) {
	notYet, fatal := errors.New("no daemon yet"), errors.New("not a repo")
	retry := func(err error) bool { return !errors.Is(err, fatal) }
	tests := []struct {
		name    string
		results []error // what each try returns; the last repeats
		wait    time.Duration
		tries   int
		wantErr string
	}{
		{"ready on the third try", []error{notYet, notYet, nil}, time.Minute, 3, ""},
		{"a fatal error ends it", []error{notYet, fatal}, time.Minute, 2, "not a repo"},
		{"gives up after the wait", []error{notYet}, 30 * time.Millisecond, -1, "waited 30ms: no daemon yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			err := retryUntil(context.Background(), tt.wait, time.Millisecond, func() error {
				r := tt.results[min(n, len(tt.results)-1)]
				n++
				return r
			}, retry)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
			if tt.tries >= 0 && n != tt.tries {
				t.Errorf("tried %d times, want %d", n, tt.tries)
			}
		})
	}
}
