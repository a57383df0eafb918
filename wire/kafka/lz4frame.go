package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pierrec/lz4/v4"
)

// LZ4 frames (KIP-57: magic 2 batches carry a standard LZ4 frame) are
// decoded here block by block straight into the output, with the block
// decoder of github.com/pierrec/lz4, instead of through its streaming
// Reader. The Reader decoded each block into a block buffer of its own (up
// to 4 MiB, twice) and copied it out, and verified the frame's xxHash-32
// checksums: with four lz4 producers that copy, the output's growth and
// the checksum were 45% of the broker's CPU (issue 19). The checksums are
// not verified: the batch's CRC-32C, checked before decompression, covers
// every compressed byte, the checksums included.
//
//	frame:  magic 0x184D2204 (LE) | FLG | BD | [content size, 8 LE] | [dict id, 4] | HC
//	        { block size (4 LE, high bit: stored uncompressed) | data | [block checksum, 4] }
//	        0x00000000 (end mark) | [content checksum, 4]
//	FLG:    version 01 (bits 7-6) | block independence | block checksum |
//	        content size | content checksum | reserved 0 | dict id
//	BD:     reserved 0 | block max size id 4..7 (64 KiB, 256 KiB, 1 MiB, 4 MiB) | reserved 0000
//
// Several frames may follow each other, and skippable frames (magic
// 0x184D2A50-5F, then a 4-byte length) are skipped, as the Reader did.
// Legacy frames (magic 0x184C2102), which the Reader also read, are
// refused: no Kafka client sends them.

const (
	lz4FrameMagic     = 0x184D2204
	lz4SkippableMagic = 0x184D2A50 // low 4 bits free (and, as pierrec/lz4 reads them, the low 8)
	lz4BlockStored    = 1 << 31    // block size high bit: not compressed
	lz4DictWindow     = 64 << 10   // a dependent block may copy from this much earlier output
)

var errLZ4Frame = errors.New("lz4: bad frame")

// decodeLZ4 appends the decompression of the LZ4 frames in src to dst,
// growing it through g. More than limit bytes appended gives ErrTooLarge;
// it never grows dst past limit+1 new bytes.
func (g *grower) decodeLZ4(src, dst []byte, limit int) ([]byte, error) {
	start := len(dst)
	for len(src) > 0 {
		if len(src) < 4 {
			return dst, fmt.Errorf("%w: %d bytes after the last frame", errLZ4Frame, len(src))
		}
		magic := binary.LittleEndian.Uint32(src)
		if magic>>8 == lz4SkippableMagic>>8 {
			if len(src) < 8 || uint64(binary.LittleEndian.Uint32(src[4:])) > uint64(len(src)-8) {
				return dst, fmt.Errorf("%w: skippable frame past the end", errLZ4Frame)
			}
			src = src[8+binary.LittleEndian.Uint32(src[4:]):]
			continue
		}
		if magic != lz4FrameMagic {
			return dst, fmt.Errorf("%w: magic %#x", errLZ4Frame, magic)
		}
		var err error
		if dst, src, err = g.lz4Frame(src[4:], dst, start, limit); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// lz4Frame decodes one frame (src after its magic) and returns the output
// and the bytes after the frame. start is where the whole output began in
// dst, for the limit.
func (g *grower) lz4Frame(src, dst []byte, start, limit int) ([]byte, []byte, error) {
	if len(src) < 3 {
		return dst, nil, fmt.Errorf("%w: short descriptor", errLZ4Frame)
	}
	flg, bd := src[0], src[1]
	if flg>>6 != 1 || flg&0x02 != 0 || bd&0x8F != 0 {
		return dst, nil, fmt.Errorf("%w: FLG %#x BD %#x", errLZ4Frame, flg, bd)
	}
	indep, blockSum, hasSize, contentSum, dictID := flg&0x20 != 0, flg&0x10 != 0, flg&0x08 != 0, flg&0x04 != 0, flg&0x01 != 0
	id := bd >> 4 & 0x7
	if id < 4 {
		return dst, nil, fmt.Errorf("%w: block size id %d", errLZ4Frame, id)
	}
	blockMax := 64 << 10 << (2 * (id - 4))
	if dictID {
		// No Kafka client sets one, and there is no dictionary to use.
		return dst, nil, fmt.Errorf("%w: dictionary id", errLZ4Frame)
	}
	src = src[2:]
	size := int64(-1)
	if hasSize {
		if len(src) < 8 {
			return dst, nil, fmt.Errorf("%w: short content size", errLZ4Frame)
		}
		size = int64(min(binary.LittleEndian.Uint64(src), 1<<62))
		if size > int64(limit-(len(dst)-start)) {
			return dst, nil, ErrTooLarge
		}
		src = src[8:]
	}
	if len(src) < 1 {
		return dst, nil, fmt.Errorf("%w: short descriptor", errLZ4Frame)
	}
	src = src[1:] // HC, covered by the batch CRC
	frameStart := len(dst)
	for {
		if len(src) < 4 {
			return dst, nil, fmt.Errorf("%w: block header past the end", errLZ4Frame)
		}
		bs := binary.LittleEndian.Uint32(src)
		src = src[4:]
		if bs == 0 {
			break // end mark
		}
		stored := bs&lz4BlockStored != 0
		n := int(bs &^ lz4BlockStored)
		if n > blockMax || n > len(src) {
			return dst, nil, fmt.Errorf("%w: block of %d bytes (max %d, %d left)", errLZ4Frame, n, blockMax, len(src))
		}
		block := src[:n]
		src = src[n:]
		if blockSum {
			if len(src) < 4 {
				return dst, nil, fmt.Errorf("%w: block checksum past the end", errLZ4Frame)
			}
			src = src[4:]
		}
		var got int
		var err error
		room := min(blockMax, start+limit+1-len(dst))
		if dst, got, err = g.lz4Block(dst, block, stored, indep || len(dst) == frameStart, frameStart, room, room < blockMax); err != nil {
			return dst, nil, err
		}
		dst = dst[:len(dst)+got]
		if len(dst)-start > limit {
			return dst, nil, ErrTooLarge
		}
	}
	if contentSum {
		if len(src) < 4 {
			return dst, nil, fmt.Errorf("%w: content checksum past the end", errLZ4Frame)
		}
		src = src[4:]
	}
	if size >= 0 && int64(len(dst)-frameStart) != size {
		return dst, nil, fmt.Errorf("%w: %d bytes, the frame declares %d", errLZ4Frame, len(dst)-frameStart, size)
	}
	return dst, src, nil
}

// lz4Block decodes one block into dst's spare capacity, at most room
// bytes (the block maximum, or less where the limit is near, then clipped:
// more needed gives ErrTooLarge). The output's size is not known before decoding, so it first
// decodes into the room already there or a guess from the compressed size,
// and grows to the whole room only if that was short: growing every block
// to the block maximum (4 MiB for most writers) cost more than the
// decoding.
func (g *grower) lz4Block(dst, block []byte, stored, indep bool, frameStart, room int, clipped bool) ([]byte, int, error) {
	if stored {
		if len(block) > room {
			return dst, 0, ErrTooLarge
		}
		var err error
		if dst, err = g.grow(dst, len(block)); err != nil {
			return dst, 0, err
		}
		return dst, copy(dst[len(dst):len(dst)+len(block)], block), nil
	}
	want := min(room, max(cap(dst)-len(dst), 4*len(block), 64<<10))
	for {
		if cap(dst)-len(dst) < want {
			var err error
			if dst, err = g.grow(dst, want); err != nil {
				return dst, 0, err
			}
		}
		out := dst[len(dst) : len(dst)+min(room, cap(dst)-len(dst))]
		var got int
		var err error
		if indep {
			got, err = lz4.UncompressBlock(block, out)
		} else {
			got, err = lz4.UncompressBlockWithDict(block, out, dst[max(frameStart, len(dst)-lz4DictWindow):])
		}
		switch {
		case err == nil:
			return dst, got, nil
		case len(out) < room:
			want = room // perhaps short of room: once more with all of it
		case clipped:
			return dst, 0, ErrTooLarge // it may have needed the room the limit withheld
		default:
			return dst, 0, fmt.Errorf("%w: block: %v", errLZ4Frame, err)
		}
	}
}
