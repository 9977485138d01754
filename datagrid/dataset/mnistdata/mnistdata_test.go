package mnistdata

import (
	"crypto/md5"
	"encoding/hex"
	"io/fs"
	"testing"
)

// The embedded files are the published ones: the MD5 sums torchvision
// checks its MNIST downloads against, and their sizes.
func TestFilesAreThePublishedOnes(t *testing.T) {
	for _, tt := range []struct {
		name string
		md5  string
		size int
	}{
		{TrainImages, "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422},
		{TrainLabels, "d53e105ee54ea40749a09fcbcd1e9432", 28881},
		{TestImages, "9fb629c4189551a2d022fa330f9573f3", 1648877},
		{TestLabels, "ec29112dd5afa0611ce80d1b7f02629c", 4542},
	} {
		b, err := fs.ReadFile(Files(), tt.name)
		if err != nil {
			t.Fatalf("read %s: %v", tt.name, err)
		}
		sum := md5.Sum(b)
		if got := hex.EncodeToString(sum[:]); got != tt.md5 || len(b) != tt.size {
			t.Errorf("%s: md5 %s, %d bytes; want %s, %d bytes", tt.name, got, len(b), tt.md5, tt.size)
		}
	}
}
