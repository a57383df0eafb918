package remoting

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
)

// sendMessageV2Frame is a typical Java-client SEND_MESSAGE_V2 (310) frame
// (without its length word): short header names, string values, a 1 KiB
// body.
func sendMessageV2Frame() []byte {
	c := &Command{
		Code: SendMessageV2, Language: "JAVA", Version: 479, Opaque: 12345,
		ExtFields: map[string]string{
			"a": "please_rename_unique_group_name", "b": "TopicTest", "c": "TBW102", "d": "4", "e": "2",
			"f": "0", "g": "1795574007314", "h": "0", "j": "0", "k": "false", "l": "16", "n": "broker-a",
			"i": "KEYS\x01order-1234\x02UNIQ_KEY\x017F0000010B7C18B4AAC21F1F55B50000\x02WAIT\x01true\x02TAGS\x01TagA\x02",
		},
		Body: bytes.Repeat([]byte("x"), 1024),
	}
	return AppendCommand(nil, c)[4:]
}

func BenchmarkDecodeSendMessageV2(b *testing.B) {
	frame := sendMessageV2Frame()
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeSendMessageV2Baseline decodes the same header with
// encoding/json into a struct, the obvious alternative, for a ratio.
func BenchmarkDecodeSendMessageV2Baseline(b *testing.B) {
	frame := sendMessageV2Frame()
	hdrLen := int(frame[1])<<16 | int(frame[2])<<8 | int(frame[3])
	header := frame[4 : 4+hdrLen]
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		var h struct {
			Code      int32             `json:"code"`
			Language  string            `json:"language"`
			Version   int32             `json:"version"`
			Opaque    int32             `json:"opaque"`
			Flag      int32             `json:"flag"`
			Remark    string            `json:"remark"`
			ExtFields map[string]string `json:"extFields"`
		}
		if err := json.Unmarshal(header, &h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendPullResponseHeader(b *testing.B) {
	req := &Command{Code: PullMessage, Opaque: 7}
	resp := NewResponse(req, Success, "FOUND")
	resp.ExtFields["nextBeginOffset"] = "1032"
	resp.ExtFields["minOffset"] = "0"
	resp.ExtFields["maxOffset"] = "1032"
	resp.ExtFields["suggestWhichBrokerId"] = "0"
	dst := make([]byte, 0, 512)
	b.SetBytes(int64(len(AppendHeader(nil, resp, 0))))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendHeader(dst[:0], resp, 32<<10)
	}
}

func storedBenchMessage() *MessageExt {
	return &MessageExt{
		QueueID: 1, QueueOffset: 1000, CommitLogOffset: 1 << 30, BornTimestamp: 1700000000000,
		BornHost: netip.MustParseAddrPort("192.0.2.7:53412"), StoreTimestamp: 1700000000001,
		StoreHost: netip.MustParseAddrPort("10.0.0.1:10911"), Body: bytes.Repeat([]byte("x"), 1024),
		Topic: "TopicTest", Properties: []byte("KEYS\x01order-1234\x02UNIQ_KEY\x017F0000010B7C18B4AAC21F1F55B50000\x02TAGS\x01TagA\x02"),
	}
}

func BenchmarkAppendStoredMessage(b *testing.B) {
	m := storedBenchMessage()
	dst := make([]byte, 0, 2048)
	b.SetBytes(int64(StoredLen(m)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendStoredMessage(dst[:0], m)
	}
}

// BenchmarkAppendStoredMessageBaseline copies a record of the same size: the
// floor for any encoder.
func BenchmarkAppendStoredMessageBaseline(b *testing.B) {
	rec := AppendStoredMessage(nil, storedBenchMessage())
	dst := make([]byte, 0, 2048)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		dst = append(dst[:0], rec...)
	}
}

func BenchmarkDecodeStoredMessage(b *testing.B) {
	rec := AppendStoredMessage(nil, storedBenchMessage())
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeStoredMessage(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTagsHashCode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		TagsHashCode("TagA")
	}
}
