package remotingapi

import (
	"strings"
	"testing"
)

// TestMQMapRoundTrip: EncodeResetOffsetBody writes fastjson's form (the
// bytes Java's broker sends, as rocketmq-client-go's ResetOffsetBody test
// has them) and DecodeMQMap reads it back; bad bodies are errors.
func TestMQMapRoundTrip(t *testing.T) {
	table := map[MessageQueue]int64{
		{BrokerName: "RaftNode00", QueueID: 0, Topic: "topicB"}: 11110,
		{BrokerName: "RaftNode00", QueueID: 1, Topic: "topicB"}: 0,
	}
	body := EncodeResetOffsetBody(table)
	want := `{"offsetTable":{{"brokerName":"RaftNode00","queueId":0,"topic":"topicB"}:11110,` +
		`{"brokerName":"RaftNode00","queueId":1,"topic":"topicB"}:0}}`
	if string(body) != want {
		t.Fatalf("body\n%s\nwant\n%s", body, want)
	}
	got, err := DecodeMQMap[int64](body, "offsetTable")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[MessageQueue{BrokerName: "RaftNode00", QueueID: 0, Topic: "topicB"}] != 11110 {
		t.Fatalf("decoded %v", got)
	}
	// Other fields, nested values and spaces are skipped or read.
	type tv struct {
		MaxOffset int64 `json:"maxOffset"`
	}
	stats := []byte(` { "topicPutTps" : 0.0 , "x":[{"a":"}"}], "offsetTable" : { {"brokerName":"b","queueId":3,"topic":"t\"q"} : {"maxOffset":7} } } `)
	m, err := DecodeMQMap[tv](stats, "offsetTable")
	if err != nil || m[MessageQueue{BrokerName: "b", QueueID: 3, Topic: `t"q`}].MaxOffset != 7 {
		t.Fatalf("decoded %v, %v", m, err)
	}
	if m, err := DecodeMQMap[int64]([]byte(`{"offsetTable":{}}`), "offsetTable"); err != nil || len(m) != 0 {
		t.Fatalf("empty map: %v, %v", m, err)
	}
	for _, bad := range []string{``, `[]`, `{"offsetTable":{"a":1}}`, `{"offsetTable":{{"queueId":"x"}:1}}`,
		`{"offsetTable":{{}:1`, `{"offsetTable":{{}:}}`, `{"other":1}`, `{"offsetTable":{{}1}}`, `{"a":"`} {
		if _, err := DecodeMQMap[int64]([]byte(bad), "offsetTable"); err == nil {
			t.Errorf("%q decoded without an error", bad)
		}
	}
}

// TestJavaHashCodes: String.hashCode of tags, as Java's codeSet has them.
func TestJavaHashCodes(t *testing.T) {
	got := javaHashCodes([]string{"TagA", "", "\U0001F600"})
	// "TagA".hashCode() == 2598919; "😀" is the pair D83D DE00.
	if want := []int32{2598919, 0, 0xD83D*31 + 0xDE00}; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// FuzzDecodeMQMap: any body decodes or fails, never panics, and what
// decodes re-encodes to a body that decodes to the same table.
func FuzzDecodeMQMap(f *testing.F) {
	f.Add([]byte(`{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:1}}`))
	f.Add([]byte(`{"offsetTable":{}}`))
	f.Add([]byte(`{"a":[[[[{"b":"\"}"}]]]],"offsetTable":{{"queueId":-1}:-5}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMQMap[int64](b, "offsetTable")
		if err != nil {
			return
		}
		again, err := DecodeMQMap[int64](EncodeResetOffsetBody(m), "offsetTable")
		if err != nil || len(again) != len(m) {
			t.Fatalf("re-encoded %v: %v, %v", m, again, err)
		}
		for k, v := range m {
			if again[k] != v {
				t.Fatalf("%v: %d then %d", k, v, again[k])
			}
		}
	})
}

// TestParseProperties: Java Properties lines as MixAll.properties2String
// writes them, with comments, blanks and ':' separators.
func TestParseProperties(t *testing.T) {
	m := parseProperties([]byte("# comment\n\n a = 1\nb:2\n!x\nc=\nbare\n"))
	if len(m) != 4 || m["a"] != "1" || m["b"] != "2" || m["c"] != "" || m["bare"] != "" {
		t.Fatalf("parsed %v", m)
	}
}

// FuzzParseProperties: any UPDATE_BROKER_CONFIG body parses without a
// panic into keys without line breaks.
func FuzzParseProperties(f *testing.F) {
	f.Add([]byte("a=1\nb:2\n# c\n"))
	f.Add([]byte("rocketmqHome=-c $@|sh . echo pwned\nfilterServerNums=1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for k := range parseProperties(b) {
			if strings.ContainsAny(k, "\n") {
				t.Fatalf("key %q", k)
			}
		}
	})
}
