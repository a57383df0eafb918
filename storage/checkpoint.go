package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"path"
	"sort"

	"github.com/twinmq/twinmq/storage/vfs"
)

// checkpoint is the recovery starting point, written atomically (temp
// file, fsync, rename, directory fsync) with a CRC. Its byte layout,
// version 1 ("TQCP"), is drawn in the package doc.
//
// recovery is a CommitLog offset below which every entry is durable and
// dispatched, and the ConsumeQueues and index are durable. Each queue's
// maxOffset is its ConsumeQueue end at that point, and minOffset its
// logical start (moved by DeleteRecords and retention).
type checkpoint struct {
	Recovery int64
	Queues   map[queueKey]queueMark
}

type queueMark struct{ Min, Max int64 }

const (
	checkpointMagic   = "TQCP"
	checkpointVersion = 1
	checkpointName    = "checkpoint"
)

var errCheckpointCorrupt = errors.New("storage: corrupt checkpoint")

func (c *checkpoint) encode() []byte {
	keys := make([]queueKey, 0, len(c.Queues))
	for k := range c.Queues {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].topic != keys[j].topic {
			return keys[i].topic < keys[j].topic
		}
		return keys[i].queue < keys[j].queue
	})
	b := append([]byte(checkpointMagic), 0, checkpointVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Recovery))
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		m := c.Queues[k]
		b = binary.BigEndian.AppendUint16(b, uint16(len(k.topic)))
		b = append(b, k.topic...)
		b = binary.BigEndian.AppendUint32(b, uint32(k.queue))
		b = binary.BigEndian.AppendUint64(b, uint64(m.Min))
		b = binary.BigEndian.AppendUint64(b, uint64(m.Max))
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func decodeCheckpoint(b []byte) (checkpoint, error) {
	c := checkpoint{Queues: map[queueKey]queueMark{}}
	if len(b) < 4+2+8+4+4 || string(b[:4]) != checkpointMagic {
		return c, fmt.Errorf("%w: bad magic or %d bytes", errCheckpointCorrupt, len(b))
	}
	if v := binary.BigEndian.Uint16(b[4:]); v != checkpointVersion {
		return c, fmt.Errorf("%w: version %d, this build reads %d", errCheckpointCorrupt, v, checkpointVersion)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return c, fmt.Errorf("%w: checksum mismatch", errCheckpointCorrupt)
	}
	c.Recovery = int64(binary.BigEndian.Uint64(body[6:]))
	n := int(binary.BigEndian.Uint32(body[14:]))
	r := body[18:]
	if n < 0 || n > len(r)/22 {
		return c, fmt.Errorf("%w: %d queues in %d bytes", errCheckpointCorrupt, n, len(r))
	}
	for range n {
		if len(r) < 2 {
			return c, fmt.Errorf("%w: truncated queue table", errCheckpointCorrupt)
		}
		tl := int(binary.BigEndian.Uint16(r))
		if len(r) < 2+tl+20 {
			return c, fmt.Errorf("%w: truncated queue table", errCheckpointCorrupt)
		}
		k := queueKey{topic: string(r[2 : 2+tl]), queue: int32(binary.BigEndian.Uint32(r[2+tl:]))}
		c.Queues[k] = queueMark{
			Min: int64(binary.BigEndian.Uint64(r[6+tl:])),
			Max: int64(binary.BigEndian.Uint64(r[14+tl:])),
		}
		r = r[22+tl:]
	}
	if len(r) != 0 || c.Recovery < 0 {
		return c, fmt.Errorf("%w: %d trailing bytes", errCheckpointCorrupt, len(r))
	}
	return c, nil
}

// readCheckpoint returns the checkpoint, found=false when there is none.
func readCheckpoint(fsys vfs.FS, dir string) (checkpoint, bool, error) {
	p := path.Join(dir, checkpointName)
	b, err := readFile(fsys, p)
	if errors.Is(err, fs.ErrNotExist) {
		return checkpoint{Queues: map[queueKey]queueMark{}}, false, nil
	}
	if err != nil {
		return checkpoint{}, false, fmt.Errorf("storage: read %s: %w", p, err)
	}
	c, err := decodeCheckpoint(b)
	if err != nil {
		return c, true, fmt.Errorf("storage: %s: %w", p, err)
	}
	return c, true, nil
}

func writeCheckpoint(fsys vfs.FS, dir string, c *checkpoint) error {
	return writeFileAtomic(fsys, dir, checkpointName, c.encode())
}

// writeFileAtomic replaces dir/name by data: temp file, fsync, rename,
// directory fsync.
func writeFileAtomic(fsys vfs.FS, dir, name string, data []byte) error {
	tmp := path.Join(dir, name+".tmp")
	f, err := fsys.Create(tmp)
	if err != nil {
		return fmt.Errorf("storage: create %s: %w", tmp, err)
	}
	_, err = f.WriteAt(data, 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("storage: write %s: %w", tmp, err)
	}
	if err := fsys.Rename(tmp, path.Join(dir, name)); err != nil {
		return fmt.Errorf("storage: rename %s: %w", tmp, err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("storage: sync dir %s: %w", dir, err)
	}
	return nil
}

func readFile(fsys vfs.FS, p string) ([]byte, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := f.Size()
	if err != nil {
		return nil, err
	}
	if n > 64<<20 {
		return nil, fmt.Errorf("file of %d bytes is too large", n)
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && n > 0 {
		return nil, err
	}
	return b, nil
}
