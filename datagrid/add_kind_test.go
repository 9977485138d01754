package datagrid

import (
	"io/fs"
	"testing"
)

func TestFileKind(t *testing.T) {
	tests := []struct {
		mode     fs.FileMode
		want     string
		wantHint bool
	}{
		{fs.ModeSymlink | 0o777, "a symlink", true},
		{fs.ModeNamedPipe, "a named pipe", false},
		{fs.ModeSocket, "a socket", false},
		{fs.ModeDevice | fs.ModeCharDevice, "a character device", false},
		{fs.ModeDevice, "a device", false},
		{fs.ModeIrregular, "not a regular file", false},
	}
	for _, tt := range tests {
		if got := fileKind(tt.mode); got != tt.want {
			t.Errorf("fileKind(%v) = %q, want %q", tt.mode, got, tt.want)
		}
		if got := kindHint(tt.mode) != ""; got != tt.wantHint {
			t.Errorf("kindHint(%v) given = %v, want %v", tt.mode, got, tt.wantHint)
		}
	}
}
