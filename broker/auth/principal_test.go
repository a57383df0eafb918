package auth

import "testing"

func TestPrincipal(t *testing.T) {
	for _, tc := range []struct {
		p         Principal
		typ, name string
	}{
		{User("alice"), "User", "alice"},
		{Anonymous, "User", "ANONYMOUS"},
		{Principal("User:CN=a,O=b"), "User", "CN=a,O=b"},
		{Principal("bare"), "", "bare"},
	} {
		if tc.p.Type() != tc.typ || tc.p.Name() != tc.name {
			t.Errorf("%q: type %q name %q, want %q %q", tc.p, tc.p.Type(), tc.p.Name(), tc.typ, tc.name)
		}
	}
}
