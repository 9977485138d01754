package cli

import "testing"

func TestIdleWhy(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"over-quota: a tasklet needs 4.2 MiB but only 1.0 MiB …", "over-quota"},
		{"unwritable: cannot write to /x: read-only file system", "unwritable"},
		{"paused by the contributor", "paused by the contributo…"},
		{"outside worker.hours: 22:00-07:00", "outside worker.hours: 22…"},
	}
	for _, tt := range tests {
		if got := idleWhy(tt.in); got != tt.want {
			t.Errorf("idleWhy(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
