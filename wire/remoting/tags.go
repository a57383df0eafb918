package remoting

import (
	"unicode/utf16"
	"unicode/utf8"
)

// TagsHashCode returns the ConsumeQueue tags code of a TAGS value: Java's
// String.hashCode() (h = 31*h + c over UTF-16 code units, int32 overflow)
// sign-extended to int64 (docs/rocketmq-protocol.md §5.2, CommitLog.checkMessageAndReturnSize).
// An invalid UTF-8 byte counts as U+FFFD. The Go client hashes UTF-8 bytes
// instead, which differs for non-ASCII tags (docs/rocketmq-protocol.md §2.6).
func TagsHashCode(tags string) int64 {
	var h int32
	for _, r := range tags { // range yields U+FFFD per invalid byte
		if r >= 0x10000 && r <= utf8.MaxRune {
			r1, r2 := utf16.EncodeRune(r)
			h = 31*h + r1
			h = 31*h + r2
			continue
		}
		h = 31*h + r
	}
	return int64(h)
}
