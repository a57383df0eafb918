package index

import (
	"errors"
	"fmt"
	"io"

	"github.com/twinmq/twinmq/storage/vfs"
)

// readFull reads len(b) bytes at off of f.
func readFull(f vfs.File, b []byte, off int64) error {
	n, err := f.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("index: read %s@%d: %w", f.Name(), off+int64(n), err)
}

// openSealed opens a file that is not the newest one: read-only, mapped,
// with its header validated strictly against the file's size.
func openSealed(fs vfs.FS, p string, seq int64) (*file, error) {
	f, err := fs.Open(p)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	m, err := mapSealed(f, p, seq)
	if err != nil {
		f.Close()
		return nil, err
	}
	return m, nil
}

func mapSealed(f vfs.File, p string, seq int64) (*file, error) {
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	var hb [headerSize]byte
	if size < headerSize {
		return nil, corrupt(p, size, "file shorter than the %d-byte header", headerSize)
	}
	if err := readFull(f, hb[:], 0); err != nil {
		return nil, err
	}
	h, err := decodeHeader(p, hb[:])
	if err != nil {
		return nil, err
	}
	if need := fileSize(h.slots, h.count); size < need {
		return nil, corrupt(p, size, "file ends inside its %d entries (%d bytes needed)", h.count, need)
	}
	if limit := fileSize(h.slots, h.capacity); size > limit {
		return nil, corrupt(p, limit, "file of %d bytes longer than its geometry", size)
	}
	view, err := f.Map(int(size))
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	return &file{path: p, seq: seq, f: f, b: view, mapped: true, h: h, diskSize: size, diskHdr: hb}, nil
}

// loadActive reads the newest file into memory (see loadMem). It returns
// nil, nil when the file holds no entry; the caller removes it.
func (x *Index) loadActive(p string, seq int64) (*file, error) {
	f, err := x.cfg.FS.OpenReadWrite(p)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	m, err := loadMem(f, p, seq)
	if m == nil {
		f.Close()
	}
	return m, err
}

// loadMem reads a file into a new in-memory file of its geometry. A file
// shorter than a header or with an all-zero header was never flushed: nil,
// nil. Otherwise the header must be valid; entries are then checked up to
// the header's count or the end of the file, whichever comes first, the
// first bad one and all after it are dropped, and the chains are rebuilt.
func loadMem(f vfs.File, p string, seq int64) (*file, error) {
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	var hb [headerSize]byte
	if size < headerSize {
		return nil, nil
	}
	if err := readFull(f, hb[:], 0); err != nil {
		return nil, err
	}
	if hb == [headerSize]byte{} {
		return nil, nil
	}
	h, err := decodeHeader(p, hb[:])
	if err != nil {
		return nil, err
	}
	if limit := fileSize(h.slots, h.capacity); size > limit {
		return nil, corrupt(p, limit, "file of %d bytes longer than its geometry", size)
	}
	m := newMemFile(p, seq, h.slots, h.capacity)
	if err := readFull(f, m.b[:size], 0); err != nil {
		return nil, err
	}
	m.f, m.diskSize, m.diskHdr, m.h = f, size, hb, h
	onDisk := uint32(0)
	if size > h.entriesOff() {
		onDisk = uint32((size - h.entriesOff()) / entrySize)
	}
	n := m.validEntries(min(h.count, onDisk))
	if n == 0 {
		return nil, nil
	}
	clear(m.b[h.entriesOff()+entrySize*int64(n):])
	m.h.count = n
	m.rebuildLocked(n) // not yet shared: no lock needed
	return m, nil
}

// close unmaps and closes the file.
func (m *file) close() error {
	if m.f == nil {
		return nil
	}
	var err error
	if m.mapped {
		err = m.f.Unmap(m.b)
		m.b, m.mapped = nil, false
	}
	if cerr := m.f.Close(); err == nil {
		err = cerr
	}
	m.f = nil
	return err
}
