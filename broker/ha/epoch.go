package ha

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Epoch says that from CommitLog offset Start on, the log was written by
// the master of epoch Epoch (the controller's masterEpoch), as RocketMQ's
// EpochFileCache entries <epoch, startOffset>. A broker's epoch list is
// sorted by both fields; an entry whose Start is past the broker's
// written end says nothing about its log and is ignored.
type Epoch struct {
	Epoch int32
	Start int64
}

// maxEpochs bounds an epoch list on the wire and on disk.
const maxEpochs = 1024

// epochFileHeader starts the epoch file, version 1: then one line per
// entry, "<epoch> <start>", in order.
const epochFileHeader = "twinmq-epochs 1"

// ErrEpochFile marks an epoch file that does not parse.
var ErrEpochFile = errors.New("ha: bad epoch file")

// LoadEpochs reads the epoch list at path; a missing file is an empty
// list.
func LoadEpochs(path string) ([]Epoch, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ha: read epochs: %w", err)
	}
	return ParseEpochs(b)
}

// ParseEpochs decodes an epoch file.
func ParseEpochs(b []byte) ([]Epoch, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	if !sc.Scan() || sc.Text() != epochFileHeader {
		return nil, fmt.Errorf("%w: no %q header", ErrEpochFile, epochFileHeader)
	}
	var out []Epoch
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			return nil, fmt.Errorf("%w: line %q", ErrEpochFile, sc.Text())
		}
		e, err1 := strconv.ParseInt(f[0], 10, 32)
		s, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w: line %q", ErrEpochFile, sc.Text())
		}
		out = append(out, Epoch{Epoch: int32(e), Start: s})
		if len(out) > maxEpochs {
			return nil, fmt.Errorf("%w: more than %d entries", ErrEpochFile, maxEpochs)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEpochFile, err)
	}
	if err := checkEpochs(out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkEpochs refuses a list that is not sorted by both fields.
func checkEpochs(l []Epoch) error {
	for i, e := range l {
		if e.Epoch < 0 || e.Start < 0 {
			return fmt.Errorf("%w: entry %d is negative", ErrEpochFile, i)
		}
		if i > 0 && (e.Epoch <= l[i-1].Epoch || e.Start < l[i-1].Start) {
			return fmt.Errorf("%w: entry %d (%d@%d) after %d@%d", ErrEpochFile, i, e.Epoch, e.Start, l[i-1].Epoch, l[i-1].Start)
		}
	}
	return nil
}

// SaveEpochs writes l to path atomically (a synced temporary file renamed
// over it, then the directory synced).
func SaveEpochs(path string, l []Epoch) error {
	if err := checkEpochs(l); err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString(epochFileHeader + "\n")
	for _, e := range l {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.Start)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("ha: save epochs: %w", err)
	}
	_, err = f.Write(b.Bytes())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		var d *os.File
		if d, err = os.Open(filepath.Dir(path)); err == nil {
			err = d.Sync()
			_ = d.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("ha: save epochs: %w", err)
	}
	return nil
}

// within is the part of l that describes a log written up to end.
func within(l []Epoch, end int64) []Epoch {
	n := len(l)
	for n > 0 && l[n-1].Start > end {
		n--
	}
	return l[:n]
}

// endOf is where epoch i of l ends in a log written up to end: the next
// entry's start, or end.
func endOf(l []Epoch, i int, end int64) int64 {
	if i+1 < len(l) {
		return min(l[i+1].Start, end)
	}
	return end
}

// CommonEnd is where a slave's log (epochs s, written up to sEnd) stops
// agreeing with its master's (epochs m, written up to mEnd), as RocketMQ's
// AutoSwitchHAConnection finds the truncation point: the last epoch both
// lists hold with the same start was written by one master, so the two
// logs agree up to where the shorter of them leaves that epoch. ok is
// false when they share no epoch: nothing of the slave's log is known to
// agree. With no epochs on either side (classic mode) the slave's end is
// returned as is.
func CommonEnd(s []Epoch, sEnd int64, m []Epoch, mEnd int64) (end int64, ok bool) {
	s, m = within(s, sEnd), within(m, mEnd)
	if len(s) == 0 || len(m) == 0 {
		return sEnd, len(s) == 0 && len(m) == 0 || sEnd == 0
	}
	for i := len(s) - 1; i >= 0; i-- {
		for j := len(m) - 1; j >= 0; j-- {
			if m[j].Epoch == s[i].Epoch && m[j].Start == s[i].Start {
				return min(endOf(s, i, sEnd), endOf(m, j, mEnd)), true
			}
		}
	}
	return 0, false
}
