package wasm

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

const (
	// MaxModuleBytes caps the .wasm accepted by Run, checked before
	// compiling: compile time and memory grow with module size.
	MaxModuleBytes = 64 << 20
	// maxTableEntries caps the declared minimum size of a module's tables.
	// Each entry costs 8 bytes of host memory outside the memory limit; Go
	// binaries declare ~15k, LLVM ones one per address-taken function.
	maxTableEntries = 1 << 20
)

// features is WebAssembly 2.0 minus reference types: table.grow (a
// reference-types instruction) can allocate up to 32 GiB of host memory in
// one call, outside the linear-memory limit. LLVM's padded call_indirect
// table index still validates without the feature.
var features = api.CoreFeaturesV2.SetEnabled(api.CoreFeatureReferenceTypes, false)

// shape is what the executor needs from a module's binary that wazero's
// CompiledModule does not expose: the declared memory minimum (of a
// memory defined by the module, exported or not) and table sizes.
type shape struct {
	memoryMinPages uint32
	tableMinSum    uint64
}

// wasm binary section IDs, https://webassembly.github.io/spec/core/binary/modules.html
const (
	sectionTable  = 4
	sectionMemory = 5
)

var wasmHeader = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// inspect reads the table and memory sections of a module that wazero has
// already decoded and validated; an error here means the two parsers
// disagree, which is treated as a bad module.
func inspect(bin []byte) (shape, error) {
	var s shape
	if !bytes.HasPrefix(bin, wasmHeader) {
		return s, errors.New("missing wasm header")
	}
	r := reader{b: bin[len(wasmHeader):]}
	for !r.done() {
		id := r.byte()
		body := reader{b: r.bytes(r.u32())}
		switch id {
		case sectionTable:
			for n := body.u32(); n > 0 && body.err == nil; n-- {
				body.byte() // reference type
				mn, _ := body.limits()
				s.tableMinSum += uint64(mn)
			}
		case sectionMemory:
			if n := body.u32(); n > 0 {
				s.memoryMinPages, _ = body.limits()
			}
		}
		if r.err == nil {
			r.err = body.err
		}
	}
	return s, r.err
}

// reader decodes the few binary-format primitives inspect needs. The first
// error sticks; later reads return zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) done() bool { return r.err != nil || len(r.b) == 0 }

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("truncated %s", what)
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail("byte")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) bytes(n uint32) []byte {
	if uint64(len(r.b)) < uint64(n) {
		r.fail("section")
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

// u32 reads an unsigned LEB128 of at most 5 bytes.
func (r *reader) u32() uint32 {
	var v uint64
	for i := 0; i < 5; i++ {
		c := r.byte()
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if v > 0xffffffff {
				r.fail("u32 (overflow)")
				return 0
			}
			return uint32(v)
		}
	}
	r.fail("u32 (too long)")
	return 0
}

// limits reads a limits type: flags, min and, if flagged, max.
func (r *reader) limits() (uint32, bool) {
	flags := r.byte()
	mn := r.u32()
	hasMax := flags&1 != 0
	if hasMax {
		r.u32()
	}
	return mn, hasMax
}

// checkShape holds a module's declared sizes to the executor's limits.
func checkShape(s shape, memoryLimitPages uint32) error {
	if s.memoryMinPages > memoryLimitPages {
		return fmt.Errorf("%w: its memory section declares a minimum of %s but the limit is %s; "+
			"link it with a smaller initial memory", ErrMemoryLimit,
			byteSize(pagesToBytes(s.memoryMinPages)), byteSize(pagesToBytes(memoryLimitPages)))
	}
	if s.tableMinSum > maxTableEntries {
		return fmt.Errorf("%w: its tables declare %d entries, more than the %d allowed; "+
			"reduce the number of indirectly called functions", ErrBadModule, s.tableMinSum, maxTableEntries)
	}
	return nil
}

// checkCommand accepts only wasip1 command modules: every import is a
// function of wasi_snapshot_preview1 and "_start" is exported with type
// () -> (). Anything else would fail at instantiation with a less helpful
// message, or, for a reactor, silently do nothing.
func checkCommand(m wazero.CompiledModule) error {
	const advice = "; build a wasip1 command module (GOOS=wasip1 GOARCH=wasm, wasm32-wasip1)"
	for _, f := range m.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod != wasi_snapshot_preview1.ModuleName {
			return fmt.Errorf("%w: it imports %s.%s but only %s is provided%s",
				ErrBadModule, mod, name, wasi_snapshot_preview1.ModuleName, advice)
		}
	}
	if mems := m.ImportedMemories(); len(mems) > 0 {
		mod, name, _ := mems[0].Import()
		return fmt.Errorf("%w: it imports memory %s.%s; a tasklet must define its own memory%s",
			ErrBadModule, mod, name, advice)
	}
	start, ok := m.ExportedFunctions()["_start"]
	if !ok {
		return fmt.Errorf("%w: it exports no _start function (reactor modules are not supported)%s",
			ErrBadModule, advice)
	}
	if len(start.ParamTypes()) != 0 || len(start.ResultTypes()) != 0 {
		return fmt.Errorf("%w: its _start takes %d parameters and returns %d results, want none%s",
			ErrBadModule, len(start.ParamTypes()), len(start.ResultTypes()), advice)
	}
	if _, ok := m.ExportedMemories()["memory"]; !ok {
		return fmt.Errorf("%w: it exports no memory named \"memory\", which WASI needs%s", ErrBadModule, advice)
	}
	return nil
}
