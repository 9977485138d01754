package jobspec

import (
	"fmt"
	"strings"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	in := readFile(b, "testdata/full.yaml")
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseWorstCase is a spec at the size limit made of unknown
// fields: the most errors, the most nodes.
func BenchmarkParseWorstCase(b *testing.B) {
	var sb strings.Builder
	for i := 0; sb.Len() < MaxSpecSize-32; i++ {
		fmt.Fprintf(&sb, "k%d: 1\n", i)
	}
	in := []byte(sb.String())
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Parse(in); err == nil {
			b.Fatal("Parse accepted a spec of unknown fields")
		}
	}
}

func BenchmarkCanonical(b *testing.B) {
	s, err := Parse(readFile(b, "testdata/full.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Canonical(); err != nil {
			b.Fatal(err)
		}
	}
}
