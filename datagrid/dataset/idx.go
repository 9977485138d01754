package dataset

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
)

// maxIDXBytes caps the decompressed payload of one IDX file (the MNIST
// training images are 47 MB).
const maxIDXBytes = 64 << 20

// idxUbyte is the IDX type code of unsigned bytes, the only one MNIST uses.
const idxUbyte = 0x08

// readIDXFile reads the gzip-compressed IDX file name of fsys, of unsigned
// bytes with ndims dimensions, and returns its dimensions and values; path
// names the file in errors.
func readIDXFile(fsys fs.FS, name, path string, ndims int) ([]int, []byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // it names the file without its folder
		}
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	z, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: not a gzip file: %w", path, err)
	}
	dims, data, err := readIDX(z, ndims, maxIDXBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return dims, data, nil
}

// readIDX parses an uncompressed IDX stream: magic 0x0000 <type> <ndims>,
// ndims big-endian uint32 sizes, then the values. It also reads to the end, so
// a gzip checksum error or trailing data surfaces.
func readIDX(r io.Reader, ndims int, limit int64) ([]int, []byte, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, nil, fmt.Errorf("read IDX magic: %w", err)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, nil, fmt.Errorf("not an IDX file (magic %x)", magic)
	}
	if magic[2] != idxUbyte {
		return nil, nil, fmt.Errorf("IDX element type 0x%02x, want 0x%02x (unsigned byte)", magic[2], idxUbyte)
	}
	if int(magic[3]) != ndims {
		return nil, nil, fmt.Errorf("IDX file has %d dimensions, want %d", magic[3], ndims)
	}
	dims := make([]int, ndims)
	total := int64(1)
	for i := range dims {
		var d uint32
		if err := binary.Read(r, binary.BigEndian, &d); err != nil {
			return nil, nil, fmt.Errorf("read IDX dimension %d: %w", i, err)
		}
		dims[i] = int(d)
		if d != 0 && total > limit/int64(d) {
			return nil, nil, fmt.Errorf("IDX dimensions %v hold more than the %d-byte limit", dims[:i+1], limit)
		}
		total *= int64(d)
	}
	data := make([]byte, total)
	if n, err := io.ReadFull(r, data); err != nil {
		return nil, nil, fmt.Errorf("IDX data truncated: dimensions %v need %d bytes, found %d: %w", dims, total, n, err)
	}
	var one [1]byte
	switch n, err := io.ReadFull(r, one[:]); {
	case n > 0:
		return nil, nil, fmt.Errorf("IDX data has trailing bytes after the %d values of dimensions %v", total, dims)
	case err != nil && !errors.Is(err, io.EOF):
		return nil, nil, fmt.Errorf("read IDX data: %w", err)
	}
	return dims, data, nil
}
