package pop

import (
	"errors"
	"strings"
	"testing"
)

func TestHandleRoundTripAndChecks(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	h := Handle{Queue: 3, Offset: 1 << 40, Serial: 77}
	s := EncodeHandle(secret, "g", "t", h)
	if len(s) != HandleTextLen {
		t.Fatalf("len %d", len(s))
	}
	got, err := DecodeHandle(secret, "g", "t", s)
	if err != nil || got != h {
		t.Fatalf("%+v %v", got, err)
	}
	bad := map[string][3]string{
		"other group":  {"g2", "t", s},
		"other topic":  {"g", "t2", s},
		"shifted name": {"gt", "", s},
		"not base64":   {"g", "t", strings.Repeat("*", HandleTextLen)},
		"short":        {"g", "t", s[:10]},
	}
	// One flipped character anywhere (the last one only changes padding
	// bits some of the time, so flip it to a far value).
	for i := 0; i < len(s); i++ {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'Q'
		} else {
			b[i] = 'A'
		}
		if _, err := DecodeHandle(secret, "g", "t", string(b)); err == nil && i < len(s)-1 {
			t.Errorf("flipped character %d accepted", i)
		}
	}
	for name, c := range bad {
		if _, err := DecodeHandle(secret, c[0], c[1], c[2]); !errors.Is(err, ErrBadHandle) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := DecodeHandle([]byte("another secret"), "g", "t", s); !errors.Is(err, ErrBadHandle) {
		t.Errorf("other secret: %v", err)
	}
}

// FuzzDecodeHandle: never panics, and whatever decodes re-encodes to the
// same text (a forged handle cannot pass without the secret).
func FuzzDecodeHandle(f *testing.F) {
	secret := []byte("fuzz-secret-fuzz-secret-fuzz-sec")
	f.Add("g", "t", EncodeHandle(secret, "g", "t", Handle{Queue: 1, Offset: 2, Serial: 3}))
	f.Add("g", "t", strings.Repeat("A", HandleTextLen))
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, group, topic, s string) {
		h, err := DecodeHandle(secret, group, topic, s)
		if err != nil {
			return
		}
		if again := EncodeHandle(secret, group, topic, h); again != s {
			t.Fatalf("decoded %+v from %q, encodes to %q", h, s, again)
		}
	})
}
