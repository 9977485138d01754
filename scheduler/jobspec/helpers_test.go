package jobspec

import (
	"errors"
	"os"
	"strings"
	"testing"
)

const (
	cidDataset = "bafybeiax3qvjqatf55xcna4hu5ue4guyoc6szxutkpjyyf7fyqkhlf2hki"
	cidProgram = "bafybeibuxxpd3ouen5osxffpgy2gesiyin2khtpx3fubzhpw6h3lpovj5a"
	// The same content as cidDataset, in other spellings.
	cidDatasetB36 = "k2jmtxryiowvqnoqks7s68mqzktnf74fnzdsg8debuohhq6ppqot5bo2"
	cidDatasetB58 = "zdj7WX33Ax7JLvPpoBCrfytaVKRZ68WM4BuimiC5wTjY2qJsj"
	cidDatasetV0  = "QmPwnoX3SsSnx5sH7w2Gi7Urvsw4dWmmrTJfR954ibGQho"

	head     = "version: 1\nname: t\n"
	okModel  = "model: {kind: mlp, inputs: 784, hidden: [128], classes: 10}\n"
	okData   = "dataset: {cid: " + cidDataset + "}\n"
	okProg   = "program: {cid: " + cidProgram + "}\n"
	okSimple = head + okModel + okData
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("cannot read test input: %v", err)
	}
	return b
}

func mustParse(t testing.TB, in string) *Spec {
	t.Helper()
	s, err := Parse([]byte(in))
	if err != nil {
		t.Fatalf("Parse:\n%s\nerror: %v", in, err)
	}
	return s
}

// fieldErrs returns the field errors of err and fails the test when err
// holds anything that is not a *FieldError.
func fieldErrs(t testing.TB, err error) []*FieldError {
	t.Helper()
	fes := FieldErrors(err)
	if n := strings.Count(err.Error(), "\n") + 1; n != len(fes) {
		t.Fatalf("error has %d lines but %d field errors: %v", n, len(fes), err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("errors.As(%v, *FieldError) = false", err)
	}
	return fes
}

func paths(fes []*FieldError) []string {
	out := make([]string, len(fes))
	for i, fe := range fes {
		out[i] = fe.Path
	}
	return out
}
