package netio

import (
	"errors"
	"testing"
)

func TestLengthPrefixed(t *testing.T) {
	f := LengthPrefixed{Max: 1024}
	tests := []struct {
		name    string
		header  []byte
		want    int
		wantErr error
	}{
		{"zero", []byte{0, 0, 0, 0}, 0, nil},
		{"small", []byte{0, 0, 0, 5}, 5, nil},
		{"max", []byte{0, 0, 4, 0}, 1024, nil},
		{"over max", []byte{0, 0, 4, 1}, 0, ErrFrameTooLarge},
		{"huge", []byte{0x7f, 0xff, 0xff, 0xff}, 0, ErrFrameTooLarge},
		{"negative", []byte{0xff, 0xff, 0xff, 0xff}, 0, ErrBadFrame},
		{"min int32", []byte{0x80, 0, 0, 0}, 0, ErrBadFrame},
		{"short header", []byte{0, 0, 1}, 0, ErrBadFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.FrameLen(tt.header)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("FrameLen(%x) err = %v, want %v", tt.header, err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("FrameLen(%x) = %d, want %d", tt.header, got, tt.want)
			}
		})
	}
}

// FuzzLengthPrefixed: never panics, and an accepted length is within [0, Max].
func FuzzLengthPrefixed(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0}, 16)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, 1<<20)
	f.Add([]byte{0, 1}, 1)
	f.Fuzz(func(t *testing.T, header []byte, max int) {
		n, err := LengthPrefixed{Max: max}.FrameLen(header)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) && !errors.Is(err, ErrFrameTooLarge) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if n < 0 || n > max {
			t.Fatalf("accepted length %d outside [0, %d]", n, max)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name            string
		cfg             Config
		wantErr         bool
		wantInFlight    int
		wantMaxBuffered int
	}{
		{"defaults", Config{Addr: ":0"}, false, 1, DefaultMaxBufferedBytes},
		{"serial forces one", Config{Addr: ":0", MaxInFlight: 9}, false, 1, DefaultMaxBufferedBytes},
		{"concurrent default", Config{Addr: ":0", Ordering: Concurrent}, false, DefaultMaxInFlight, DefaultMaxBufferedBytes},
		// Larger frames are assembled out of gnet's buffer: it need hold one
		// frame that is not.
		{"buffer holds an unassembled frame", Config{Addr: ":0", Framer: LengthPrefixed{Max: 1 << 20}, MaxBufferedBytes: 10}, false, 1, assembleMin + 4},
		{"no addr", Config{}, true, 0, 0},
		{"zero max", Config{Addr: ":0", Framer: LengthPrefixed{}}, true, 0, 0},
		{"bad ordering", Config{Addr: ":0", Ordering: 7}, true, 0, 0},
		{"negative conns", Config{Addr: ":0", MaxConns: -1}, true, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			err := cfg.validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("validate() = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if cfg.MaxInFlight != tt.wantInFlight {
				t.Errorf("MaxInFlight = %d, want %d", cfg.MaxInFlight, tt.wantInFlight)
			}
			if tt.wantMaxBuffered != 0 && cfg.MaxBufferedBytes < tt.wantMaxBuffered {
				t.Errorf("MaxBufferedBytes = %d, want >= %d", cfg.MaxBufferedBytes, tt.wantMaxBuffered)
			}
		})
	}
}
