package cli

import "testing"

func TestCmdline(t *testing.T) {
	tests := []struct {
		repo string
		via  repoSource
		want string
	}{
		{"/home/u/.gridswarm", repoDefault, "gridswarm daemon"},
		{"/tmp/a", repoFromFlag, "gridswarm --repo /tmp/a daemon"},
		{"/tmp/a", repoFromEnv, "GRIDSWARM_PATH=/tmp/a gridswarm daemon"},
		{"/tmp/my repo", repoFromFlag, "gridswarm --repo '/tmp/my repo' daemon"},
		{"/tmp/it's", repoFromEnv, `GRIDSWARM_PATH='/tmp/it'\''s' gridswarm daemon`},
		{"~/x", repoFromFlag, "gridswarm --repo '~/x' daemon"},
	}
	for _, tt := range tests {
		e := &env{repo: tt.repo, repoVia: tt.via}
		if got := e.cmdline("daemon"); got != tt.want {
			t.Errorf("cmdline(%q, %d) = %q, want %q", tt.repo, tt.via, got, tt.want)
		}
	}
}
