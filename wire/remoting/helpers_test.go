package remoting

import (
	"bytes"
	"maps"
	"testing"
)

// assertSameCommand compares two commands field by field; a nil and an
// empty ExtFields or Body are the same.
func assertSameCommand(t *testing.T, got, want *Command) {
	t.Helper()
	if d := commandDiff(got, want); d != "" {
		t.Errorf("command differs: %s\n got %+v\nwant %+v", d, got, want)
	}
}

func commandDiff(got, want *Command) string {
	switch {
	case got.Code != want.Code:
		return "Code"
	case got.Language != want.Language:
		return "Language"
	case got.Version != want.Version:
		return "Version"
	case got.Opaque != want.Opaque:
		return "Opaque"
	case got.Flag != want.Flag:
		return "Flag"
	case got.Remark != want.Remark:
		return "Remark"
	case !maps.Equal(got.ExtFields, want.ExtFields):
		return "ExtFields"
	case !bytes.Equal(got.Body, want.Body):
		return "Body"
	case got.SerializeType != want.SerializeType:
		return "SerializeType"
	}
	return ""
}
