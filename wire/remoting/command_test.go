package remoting

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func jsonFrame(header string, body string) []byte {
	var f []byte
	f = appendU32(f, uint32(len(header)))
	f = append(f, header...)
	return append(f, body...)
}

func TestFrameLen(t *testing.T) {
	tests := []struct {
		name    string
		buf     []byte
		want    int
		wantErr error
	}{
		{"empty", nil, 0, nil},
		{"partial length word", []byte{0, 0, 0}, 0, nil},
		{"partial frame", []byte{0, 0, 0, 8, 0, 0, 0, 0}, 0, nil},
		{"whole frame", []byte{0, 0, 0, 4, 0, 0, 0, 0}, 8, nil},
		{"whole frame and more", []byte{0, 0, 0, 4, 0, 0, 0, 0, 9, 9}, 8, nil},
		{"declared 3", []byte{0, 0, 0, 3}, 0, ErrFrameSize},
		{"declared negative", []byte{0xff, 0xff, 0xff, 0xff}, 0, ErrFrameSize},
		{"declared max", appendU32(nil, MaxFrameSize-4), 0, nil},
		{"declared over max", appendU32(nil, MaxFrameSize-3), 0, ErrFrameSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := FrameLen(tt.buf)
			if n != tt.want || !errors.Is(err, tt.wantErr) {
				t.Errorf("FrameLen = %d, %v; want %d, %v", n, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestDecodeJSONLenient(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   Command
	}{
		{"minimal", `{"code":1}`, Command{Code: 1, ExtFields: map[string]string{}}},
		{"whitespace and unknown keys", " {\n\"code\" : 12 , \"x\":{\"y\":[1,{}]},\"serializeTypeCurrentRPC\":\"JSON\", \"opaque\":3}\t",
			Command{Code: 12, Opaque: 3, ExtFields: map[string]string{}}},
		{"numeric strings", `{"code":"34","opaque":"-5","flag":"1","version":"317"}`,
			Command{Code: 34, Opaque: -5, Flag: 1, Version: 317, ExtFields: map[string]string{}}},
		{"nulls", `{"code":0,"remark":null,"language":null,"extFields":null}`, Command{ExtFields: map[string]string{}}},
		{"language ordinal", `{"code":0,"language":9}`, Command{Language: "GO", ExtFields: map[string]string{}}},
		{"unknown language name kept", `{"code":0,"language":"ZIG"}`, Command{Language: "ZIG", ExtFields: map[string]string{}}},
		{"ext scalars", `{"code":0,"extFields":{"n":-12,"z":-0,"f":1.50,"e":1E+3,"t":true,"F":false,"nul":null,"o":{"a":[1, "b"]},"s":"v"}}`,
			Command{ExtFields: map[string]string{"n": "-12", "z": "0", "f": "1.50", "e": "1E+3", "t": "true", "F": "false", "o": `{"a":[1, "b"]}`, "s": "v"}}},
		{"ext null removes an earlier duplicate", `{"code":0,"extFields":{"a":"1","a":null}}`, Command{ExtFields: map[string]string{}}},
		{"escapes", `{"code":0,"remark":"q\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00|\ud800|\u0001"}`,
			Command{Remark: "q\"\\/\b\f\n\r\té😀|\uFFFD|\x01", ExtFields: map[string]string{}}},
		{"raw control and invalid UTF-8", "{\"code\":0,\"remark\":\"a\x01\xff\"}", Command{Remark: "a\x01\uFFFD", ExtFields: map[string]string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Decode(jsonFrame(tt.header, ""))
			if err != nil {
				t.Fatal(err)
			}
			assertSameCommand(t, c, &tt.want)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
	}{
		{"no header word", []byte{0, 0, 0}},
		{"header longer than frame", []byte{0, 0, 0, 9, '{', '}'}},
		{"unknown serialize type", []byte{2, 0, 0, 2, '{', '}'}},
		{"empty JSON header", jsonFrame("", "")},
		{"not an object", jsonFrame(`[]`, "")},
		{"trailing garbage", jsonFrame(`{"code":1}x`, "")},
		{"missing colon", jsonFrame(`{"code" 1}`, "")},
		{"code not int32", jsonFrame(`{"code":4294967296}`, "")},
		{"code fraction", jsonFrame(`{"code":1.5}`, "")},
		{"code bool", jsonFrame(`{"code":true}`, "")},
		{"bad number", jsonFrame(`{"code":-}`, "")},
		{"leading zero", jsonFrame(`{"code":01}`, "")},
		{"unterminated string", jsonFrame(`{"remark":"abc`, "")},
		{"bad escape", jsonFrame(`{"remark":"\x"}`, "")},
		{"bad unicode escape", jsonFrame(`{"remark":"\u12"}`, "")},
		{"extFields array", jsonFrame(`{"extFields":[]}`, "")},
		{"mismatched brackets", jsonFrame(`{"x":[}`, "")},
		{"unterminated object", jsonFrame(`{"code":1,`, "")},
		{"binary short", append([]byte{1, 0, 0, 5}, 0, 1, 0, 0, 1)},
		{"binary remark overruns", binaryFrame(func(h []byte) []byte { return append(h[:13], 0, 0, 1, 0) })},
		{"binary negative key length", binaryFrame(func(h []byte) []byte {
			return append(h[:17], 0, 0, 0, 6, 0xff, 0xff, 0, 0, 0, 0)
		})},
		{"binary trailing bytes", binaryFrame(func(h []byte) []byte { return append(h, 0) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := Decode(tt.frame); !errors.Is(err, ErrMalformed) {
				t.Errorf("Decode = %+v, %v; want ErrMalformed", c, err)
			}
		})
	}
}

// binaryFrame returns a ROCKETMQ frame (without length word) whose header is
// edit applied to an empty command's header.
func binaryFrame(edit func([]byte) []byte) []byte {
	h := edit(appendBinaryHeader(nil, &Command{Code: 10}))
	return append(appendU32(nil, 1<<24|uint32(len(h))), h...)
}

func TestCommandRoundTrip(t *testing.T) {
	ext := map[string]string{"topic": "T", "properties": "TAGS\x01a\x02", "quote\"": "é\n", "": ""}
	cmds := []Command{
		{Code: 10, Language: "GO", Version: 317, Opaque: 1, ExtFields: ext, Body: []byte("body")},
		{Code: 0, Language: "JAVA", Version: 479, Opaque: -7, Flag: 3, Remark: "FOUND", ExtFields: map[string]string{}},
		{Code: 200050, Version: 479, Opaque: 1 << 30, ExtFields: ext},
		{Code: -32768, Language: "NODE_JS", Version: 32767, Flag: 2, Remark: "ü", ExtFields: ext, SerializeType: SerializeRocketMQ, Body: []byte{0}},
		{Code: 11, Language: "GO", Version: 317, ExtFields: map[string]string{}, SerializeType: SerializeRocketMQ},
	}
	for _, c := range cmds {
		frame := AppendCommand([]byte("prefix"), &c)[len("prefix"):]
		n, err := FrameLen(frame)
		if err != nil || n != len(frame) {
			t.Fatalf("FrameLen = %d, %v; want %d", n, err, len(frame))
		}
		got, err := Decode(frame[4:])
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		assertSameCommand(t, got, &c)
	}
}

func TestBinaryFallsBackToJSON(t *testing.T) {
	c := &Command{Code: PopMessage, ExtFields: map[string]string{strings.Repeat("k", 1<<15): "v"}, SerializeType: SerializeRocketMQ}
	frame := AppendCommand(nil, c)
	if frame[4] != SerializeJSON {
		t.Fatalf("serialize type %d, want JSON for code %d", frame[4], c.Code)
	}
	got, err := Decode(frame[4:])
	if err != nil {
		t.Fatal(err)
	}
	c.SerializeType = SerializeJSON
	assertSameCommand(t, got, c)
}

func TestAppendJSONHeaderBytes(t *testing.T) {
	req := &Command{Code: PullMessage, Opaque: 20}
	resp := NewResponse(req, PullNotFound, "OFFSET_OVERFLOW_ONE")
	resp.ExtFields["nextBeginOffset"] = "3"
	resp.ExtFields["minOffset"] = "0"
	resp.ExtFields["props"] = "TAGS\x01a\x02"
	want := `{"code":19,"language":"JAVA","version":479,"opaque":20,"flag":1,"remark":"OFFSET_OVERFLOW_ONE",` +
		`"extFields":{"minOffset":"0","nextBeginOffset":"3","props":"TAGS\u0001a\u0002"}}`
	frame := AppendCommand(nil, resp)
	if got := string(frame[8:]); got != want {
		t.Errorf("header\n got %s\nwant %s", got, want)
	}
	if !resp.IsResponse() || resp.IsOneway() || resp.SerializeType != SerializeJSON {
		t.Errorf("flags: response %v oneway %v type %d", resp.IsResponse(), resp.IsOneway(), resp.SerializeType)
	}
}

func TestNewResponseKeepsSerializeType(t *testing.T) {
	req := &Command{Code: SendMessage, Opaque: 9, Flag: FlagOneway, SerializeType: SerializeRocketMQ}
	if !req.IsOneway() || req.IsResponse() {
		t.Fatal("request flags")
	}
	resp := NewResponse(req, Success, "")
	frame := AppendCommand(nil, resp)
	if frame[4] != SerializeRocketMQ || resp.Opaque != 9 || resp.Flag != FlagResponse {
		t.Errorf("response type %d opaque %d flag %d", frame[4], resp.Opaque, resp.Flag)
	}
}

func TestAppendHeaderThenBody(t *testing.T) {
	for _, st := range []uint8{SerializeJSON, SerializeRocketMQ} {
		c := &Command{Code: Success, Flag: FlagResponse, Opaque: 5, SerializeType: st,
			ExtFields: map[string]string{"nextBeginOffset": "2"}, Body: []byte("recordArecordB")}
		whole := AppendCommand(nil, c)
		parts := AppendHeader(nil, &Command{Code: c.Code, Flag: c.Flag, Opaque: 5, SerializeType: st, ExtFields: c.ExtFields}, len(c.Body))
		parts = append(append(parts, "recordA"...), "recordB"...)
		if !bytes.Equal(whole, parts) {
			t.Errorf("type %d: AppendHeader+body = %x, AppendCommand = %x", st, parts, whole)
		}
	}
}

func TestCodeNames(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{RequestName(SendMessageV2), "SEND_MESSAGE_V2"},
		{RequestName(PopMessage), "POP_MESSAGE"},
		{ResponseName(PullOffsetMoved), "PULL_OFFSET_MOVED"},
		{ResponseName(FlushDiskTimeout), "FLUSH_DISK_TIMEOUT"},
		{RequestName(99999), ""},
		{languageName(13), "NODE_JS"},
		{languageName(200), "OTHER"},
		{languages[languageCode("GO")], "GO"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestPeekCode(t *testing.T) {
	binary := AppendCommand(nil, &Command{Code: 310, SerializeType: SerializeRocketMQ, ExtFields: map[string]string{"b": "T"}})
	tests := []struct {
		name   string
		frame  []byte
		want   int32
		wantOK bool
	}{
		{"json", jsonFrame(`{"code":310,"language":"GO"}`, "body"), 310, true},
		{"json only member", jsonFrame(`{"code":10}`, ""), 10, true},
		{"json negative", jsonFrame(`{"code":-5,"flag":1}`, ""), -5, true},
		{"json max int32", jsonFrame(`{"code":2147483647}`, ""), 1<<31 - 1, true},
		{"json over int32", jsonFrame(`{"code":2147483648}`, ""), 0, false},
		{"json min int32", jsonFrame(`{"code":-2147483648}`, ""), -1 << 31, true},
		{"json code not first", jsonFrame(`{"flag":0,"code":310}`, ""), 0, false},
		{"json space", jsonFrame(`{ "code":310}`, ""), 0, false},
		{"json string code", jsonFrame(`{"code":"310"}`, ""), 0, false},
		{"json no digits", jsonFrame(`{"code":,}`, ""), 0, false},
		{"json cut in the number", jsonFrame(`{"code":31`, ""), 0, false},
		{"json number runs into the body", append(appendU32(nil, 9), `{"code":3`+"10,"...), 0, false},
		{"rocketmq", binary[4:], 310, true},
		{"rocketmq short header", []byte{1, 0, 0, 1, 0x01}, 0, false},
		{"header longer than frame", []byte{0, 0, 0, 99, '{'}, 0, false},
		{"unknown serialize type", []byte{7, 0, 0, 2, 0, 10}, 0, false},
		{"short", []byte{0, 0}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := PeekCode(tt.frame)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("PeekCode = %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
