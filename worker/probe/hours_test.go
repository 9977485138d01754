package probe

import (
	"strings"
	"testing"
	"time"
)

func TestParseHours(t *testing.T) {
	tests := []struct {
		in      string
		want    string // String() of the result
		wantErr string
	}{
		{"", "", ""},
		{"  ", "", ""},
		{"22:00-07:00", "22:00-07:00", ""},
		{"9:30-17:00", "09:30-17:00", ""},
		{" 18:00 - 24:00 ", "18:00-24:00", ""},
		{"00:00-00:01", "00:00-00:01", ""},
		{"22:00", "", `no "-" between start and end`},
		{"25:00-07:00", "", `start: "25:00": hour 25 is out of range 00-23`},
		{"22:00-07:60", "", `end: "07:60": minute 60 is out of range 00-59`},
		{"24:00-07:00", "", `start: "24:00": hour 24 is out of range 00-23`},
		{"22-07", "", `start: "22" is not HH:MM`},
		{"22:0-07:00", "", `start: "22:0" is not HH:MM`},
		{"+1:00-07:00", "", `start: "+1:00" is not HH:MM`},
		{"aa:bb-07:00", "", `start: "aa:bb" is not HH:MM`},
		{"08:00-08:00", "", "the window is empty or the whole day"},
		{"00:00-24:00", "", "the window is empty or the whole day"},
	}
	for _, tc := range tests {
		h, err := ParseHours(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), `e.g. "22:00-07:00"`) && !strings.Contains(err.Error(), "leave hours empty") {
				t.Errorf("ParseHours(%q) err = %v, want one containing %q and a hint", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || h.String() != tc.want {
			t.Errorf("ParseHours(%q) = %q, %v; want %q, nil", tc.in, h.String(), err, tc.want)
		}
	}
}

func TestHoursContains(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 1, 5, h, m, 59, 0, time.UTC) }
	tests := []struct {
		hours string
		at    time.Time
		want  bool
	}{
		{"", at(3, 0), true},
		{"22:00-07:00", at(21, 59), false},
		{"22:00-07:00", at(22, 0), true},
		{"22:00-07:00", at(0, 0), true},
		{"22:00-07:00", at(6, 59), true},
		{"22:00-07:00", at(7, 0), false},
		{"09:00-17:00", at(8, 59), false},
		{"09:00-17:00", at(9, 0), true},
		{"09:00-17:00", at(16, 59), true},
		{"09:00-17:00", at(17, 0), false},
		{"18:00-24:00", at(23, 59), true},
		{"18:00-24:00", at(0, 0), false},
		// The wall clock of the time's own location counts.
		{"22:00-07:00", time.Date(2026, 1, 5, 7, 30, 0, 0, time.FixedZone("CET", 3600)), false},
		{"22:00-07:00", time.Date(2026, 1, 5, 7, 30, 0, 0, time.FixedZone("CET", 3600)).UTC(), true},
	}
	for _, tc := range tests {
		h, err := ParseHours(tc.hours)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.Contains(tc.at); got != tc.want {
			t.Errorf("%q.Contains(%s) = %v, want %v", tc.hours, tc.at.Format("15:04 MST"), got, tc.want)
		}
	}
}
