package remotingapi

import (
	"encoding/binary"
	"testing"
)

// msg is a fake stored message of size bytes (its TOTALSIZE first).
func msg(size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b, uint32(size))
	return b
}

func concat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// TestCountMessages: whole messages one a part, several in one part, and
// one message split into head, body and tail (the converted pulls of the
// pull cache) count the same.
func TestCountMessages(t *testing.T) {
	m1, m2, m3 := msg(40), msg(9), msg(100)
	tests := []struct {
		name  string
		parts [][]byte
		want  int
	}{
		{"none", nil, 0},
		{"one a part", [][]byte{m1, m2, m3}, 3},
		{"all in one part", [][]byte{concat(m1, m2, m3)}, 3},
		{"split head body tail", [][]byte{m1[:10], m1[10:30], m1[30:], m2, m3[:4], m3[4:]}, 3},
		{"torn size", [][]byte{m1, m2[:2]}, 1},
		{"zero size", [][]byte{m1, make([]byte, 8)}, 1},
	}
	for _, tt := range tests {
		if got := countMessages(tt.parts); got != tt.want {
			t.Errorf("%s: %d messages, want %d", tt.name, got, tt.want)
		}
	}
}

// FuzzCountMessages: any bytes, cut into parts anywhere, never panic and
// never count more messages than 4-byte sizes fit in them.
func FuzzCountMessages(f *testing.F) {
	f.Add(concat(msg(40), msg(9), msg(100)), uint8(10))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		var parts [][]byte
		for step := int(cut%16) + 1; len(data) > step; data = data[step:] {
			parts = append(parts, data[:step])
		}
		parts = append(parts, data)
		total := 0
		for _, p := range parts {
			total += len(p)
		}
		if n := countMessages(parts); n < 0 || n > total/4 {
			t.Fatalf("%d messages in %d bytes", n, total)
		}
	})
}
