package wasm

import (
	"fmt"
	"io"
	"io/fs"
	"sync"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// maxOutputEntries caps how many files and directories /out may hold, so a
// tasklet cannot exhaust the host's inodes with empty files.
const maxOutputEntries = 100_000

// Modes of what the guest creates in /out, whatever it asks for, so the
// worker can always read and remove the output.
const (
	filePerm = 0o644
	dirPerm  = 0o755
)

// outputBudget tracks the logical size and entry count of /out during one
// run and refuses growth past the caps. It starts at zero because /out is
// checked to be empty before the run.
type outputBudget struct {
	maxBytes   int64
	maxEntries int64

	mu      sync.Mutex
	bytes   int64
	entries int64
	refused error // the first refusal, reported by Run
}

func newOutputBudget(maxBytes int64) *outputBudget {
	return &outputBudget{maxBytes: maxBytes, maxEntries: maxOutputEntries}
}

// reserve adds growth if it fits both caps and reports whether it did.
func (b *outputBudget) reserve(bytes, entries int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bytes+bytes > b.maxBytes {
		b.refuse(fmt.Errorf("/out would grow to %d bytes, over the %s limit", b.bytes+bytes, byteSize(uint64(b.maxBytes))))
		return false
	}
	if b.entries+entries > b.maxEntries {
		b.refuse(fmt.Errorf("/out would hold %d entries, over the limit of %d", b.entries+entries, b.maxEntries))
		return false
	}
	b.bytes += bytes
	b.entries += entries
	return true
}

func (b *outputBudget) refuse(err error) {
	if b.refused == nil {
		b.refused = err
	}
}

// adjust applies a change that needs no permission: space freed, or the
// difference between a reservation and what a write really did.
func (b *outputBudget) adjust(bytes, entries int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bytes += bytes
	b.entries += entries
}

// Refused returns why a write was refused, or nil.
func (b *outputBudget) Refused() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.refused
}

// outFS is the file system mounted at /out. It denies symlinks and hard
// links and charges every size change to the budget. wazero checks guest
// paths for ".." but not symlink targets: without this, a guest could link
// /out/x to "../../etc" and read or write through it (verified against
// wazero v1.12.0 with a plain WithDirMount).
type outFS struct {
	experimentalsys.FS
	budget *outputBudget
}

// fileSize returns the size of a regular file at path, 0 for anything else,
// and whether something exists there.
func (o *outFS) fileSize(path string) (int64, bool) {
	st, errno := o.FS.Lstat(path)
	if errno != 0 {
		return 0, false
	}
	if st.Mode.IsRegular() {
		return st.Size, true
	}
	return 0, true
}

// OpenFile implements experimentalsys.FS.
func (o *outFS) OpenFile(path string, flag experimentalsys.Oflag, _ fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	size, exists := o.fileSize(path)
	creating := flag&experimentalsys.O_CREAT != 0 && !exists
	if creating && !o.budget.reserve(0, 1) {
		return nil, experimentalsys.EIO
	}
	f, errno := o.FS.OpenFile(path, flag, filePerm)
	if errno != 0 {
		if creating {
			o.budget.adjust(0, -1)
		}
		return nil, errno
	}
	if flag&experimentalsys.O_TRUNC != 0 && size > 0 {
		o.budget.adjust(-size, 0)
	}
	return &outFile{File: f, budget: o.budget}, 0
}

// Mkdir implements experimentalsys.FS.
func (o *outFS) Mkdir(path string, _ fs.FileMode) experimentalsys.Errno {
	if !o.budget.reserve(0, 1) {
		return experimentalsys.EIO
	}
	errno := o.FS.Mkdir(path, dirPerm)
	if errno != 0 {
		o.budget.adjust(0, -1)
	}
	return errno
}

// Unlink implements experimentalsys.FS. Links are refused, so removing a
// name frees its bytes.
func (o *outFS) Unlink(path string) experimentalsys.Errno {
	size, _ := o.fileSize(path)
	errno := o.FS.Unlink(path)
	if errno == 0 {
		o.budget.adjust(-size, -1)
	}
	return errno
}

// Rmdir implements experimentalsys.FS.
func (o *outFS) Rmdir(path string) experimentalsys.Errno {
	errno := o.FS.Rmdir(path)
	if errno == 0 {
		o.budget.adjust(0, -1)
	}
	return errno
}

// Rename implements experimentalsys.FS; a replaced target frees its bytes.
func (o *outFS) Rename(from, to string) experimentalsys.Errno {
	size, exists := o.fileSize(to)
	errno := o.FS.Rename(from, to)
	if errno == 0 && exists {
		o.budget.adjust(-size, -1)
	}
	return errno
}

// Chmod implements experimentalsys.FS by refusing: the worker must be
// able to read and remove whatever the guest leaves in /out.
func (o *outFS) Chmod(string, fs.FileMode) experimentalsys.Errno { return experimentalsys.EPERM }

// Symlink implements experimentalsys.FS by refusing.
func (o *outFS) Symlink(string, string) experimentalsys.Errno { return experimentalsys.EPERM }

// Link implements experimentalsys.FS by refusing: a second name for a file
// would make unlink stop freeing its bytes.
func (o *outFS) Link(string, string) experimentalsys.Errno { return experimentalsys.EPERM }

// outFile charges the growth of a file in /out to the budget before
// writing, then corrects the charge with the size the write really left.
type outFile struct {
	experimentalsys.File
	budget *outputBudget
}

func (f *outFile) size() (int64, experimentalsys.Errno) {
	st, errno := f.File.Stat()
	return st.Size, errno
}

// Write implements experimentalsys.File.
func (f *outFile) Write(buf []byte) (int, experimentalsys.Errno) {
	size, errno := f.size()
	if errno != 0 {
		return 0, errno
	}
	off := size
	if !f.File.IsAppend() {
		if off, errno = f.File.Seek(0, io.SeekCurrent); errno != 0 {
			return 0, errno
		}
	}
	return f.charged(size, off+int64(len(buf)), func() (int, experimentalsys.Errno) { return f.File.Write(buf) })
}

// Pwrite implements experimentalsys.File.
func (f *outFile) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	size, errno := f.size()
	if errno != 0 {
		return 0, errno
	}
	return f.charged(size, off+int64(len(buf)), func() (int, experimentalsys.Errno) { return f.File.Pwrite(buf, off) })
}

// Truncate implements experimentalsys.File (also behind fd_allocate).
func (f *outFile) Truncate(n int64) experimentalsys.Errno {
	size, errno := f.size()
	if errno != 0 {
		return errno
	}
	_, errno = f.charged(size, n, func() (int, experimentalsys.Errno) { return 0, f.File.Truncate(n) })
	return errno
}

// charged runs op, which may extend the file from size to at most end,
// holding the growth against the budget around it.
func (f *outFile) charged(size, end int64, op func() (int, experimentalsys.Errno)) (int, experimentalsys.Errno) {
	growth := max(0, end-size)
	if !f.budget.reserve(growth, 0) {
		return 0, experimentalsys.EIO
	}
	n, errno := op()
	after, serr := f.size()
	if serr != 0 {
		after = size + growth // keep the reservation: err high, never low
	}
	f.budget.adjust(after-size-growth, 0)
	return n, errno
}
