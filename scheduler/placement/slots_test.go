package placement

import "testing"

func TestSlotsRule(t *testing.T) {
	tests := []struct {
		name            string
		slots, inFlight int
		want            string
	}{
		{"zero slots count as one, free", 0, 0, ""},
		{"zero slots count as one, full", 0, 1, ReasonSlots},
		{"one of two used", 2, 1, ""},
		{"two of two used", 2, 2, ReasonSlots},
		{"negative in flight is invalid", 1, -1, ReasonInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Peer{ID: "p", Executors: []string{"builtin"}, Idle: true, Throughput: 1, BandwidthBps: 1, Slots: tt.slots, InFlight: tt.inFlight}
			tl := Tasklet{ID: "t", Executor: "builtin"}
			if got := Check(&p, &tl); got != tt.want {
				t.Errorf("Check(slots %d, in flight %d) = %q, want %q", tt.slots, tt.inFlight, got, tt.want)
			}
		})
	}
}
