package jobspec

import (
	"bytes"
	"strings"
	"testing"
)

// TestDocExample keeps docs/jobspec.md true: its complete example parses,
// and its canonical form is what the page shows.
func TestDocExample(t *testing.T) {
	page := string(readFile(t, "../../docs/jobspec.md"))
	example := fenced(t, page, "```yaml\n")
	want := fenced(t, page, "```json\n")
	s, err := Parse([]byte(example))
	if err != nil {
		t.Fatalf("the example in docs/jobspec.md does not parse: %v", err)
	}
	got, err := s.Canonical()
	if err != nil {
		t.Fatalf("Canonical: %v", err)
	}
	if !bytes.Equal(got, []byte(strings.TrimSpace(want))) {
		t.Errorf("docs/jobspec.md shows the canonical form\n%s\nbut it is\n%s", want, got)
	}
}

// fenced returns the body of the first code block that opens with fence.
func fenced(t *testing.T, page, fence string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, fence)
	if !ok {
		t.Fatalf("docs/jobspec.md has no %q block", strings.TrimSpace(fence))
	}
	body, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("docs/jobspec.md: %q block is not closed", strings.TrimSpace(fence))
	}
	return body
}
