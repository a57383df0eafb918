package auth

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"
)

// The expected signatures were computed with openssl:
// printf %s RocketMQ1thello | openssl dgst -sha1 -hmac 12345678 -binary | base64
func TestSignatureVectors(t *testing.T) {
	fields := map[string]string{"AccessKey": "RocketMQ", "topic": "t", "queueId": "1"}
	if got := Sign(fields, []byte("hello"), "12345678"); got != "9PQJlHweoQ/7iNLzk3sHKSVlojM=" {
		t.Errorf("signature %s", got)
	}
	// ali-ons adds OnsChannel, an ordinary signed field (sorted after
	// AccessKey: 'O' < 'q' < 't').
	fields["OnsChannel"] = "ALIYUN"
	if got := Sign(fields, []byte("hello"), "12345678"); got != "fA+8xjvqWBm+rGArVN0MxJKRXHc=" {
		t.Errorf("signature with OnsChannel %s", got)
	}
	fields["Signature"] = "fA+8xjvqWBm+rGArVN0MxJKRXHc="
	if !VerifySignature(fields, []byte("hello"), "12345678") {
		t.Error("a valid signature does not verify")
	}
	for name, edit := range map[string]func(m map[string]string) ([]byte, string){
		"other secret": func(m map[string]string) ([]byte, string) { return []byte("hello"), "12345679" },
		"other body":   func(m map[string]string) ([]byte, string) { return []byte("hellO"), "12345678" },
		"other field":  func(m map[string]string) ([]byte, string) { m["queueId"] = "2"; return []byte("hello"), "12345678" },
		"added field":  func(m map[string]string) ([]byte, string) { m["x"] = "y"; return []byte("hello"), "12345678" },
		"no signature": func(m map[string]string) ([]byte, string) { delete(m, "Signature"); return []byte("hello"), "12345678" },
	} {
		m := maps.Clone(fields)
		body, secret := edit(m)
		if VerifySignature(m, body, secret) {
			t.Errorf("%s: verified", name)
		}
	}
	// rocketmq-client-go signs without its SecurityToken and sends it.
	tok := maps.Clone(fields)
	tok["SecurityToken"] = "sts"
	if !VerifySignature(tok, []byte("hello"), "12345678") {
		t.Error("an unsigned SecurityToken is refused")
	}
}

func TestAccountsAuthenticate(t *testing.T) {
	dir := t.TempDir()
	a, err := OpenAccounts(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Put(Account{Name: "alice", AccessKey: "alice-ak", SecretKey: "alice-secret"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Put(Account{Name: "root", AccessKey: "root-ak", SecretKey: "root-secret", Admin: true, WhiteRemoteAddress: "10.0.0.{1,2}"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Put(Account{Name: "bob", AccessKey: "alice-ak", SecretKey: "bob-secret"}); err == nil {
		t.Error("a second account took alice's access key")
	}
	if err := a.Put(Account{Name: "short", AccessKey: "ak", SecretKey: "s"}); err == nil {
		t.Error("short keys accepted")
	}
	if st, err := os.Stat(filepath.Join(dir, AccountsFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("accounts file: %v %v", st, err)
	}
	b, err := OpenAccounts(dir) // reopened from the file
	if err != nil {
		t.Fatal(err)
	}
	signed := func(ak, secret string) map[string]string {
		f := map[string]string{"topic": "t", FieldAccessKey: ak}
		f[FieldSignature] = Sign(f, []byte("body"), secret)
		return f
	}
	id, err := b.Authenticate(signed("alice-ak", "alice-secret"), []byte("body"), "1.2.3.4")
	if err != nil || id.Principal != User("alice") || id.Admin || id.Trusted {
		t.Errorf("alice: %+v %v", id, err)
	}
	if _, err := b.Authenticate(signed("alice-ak", "wrong-secret"), []byte("body"), "1.2.3.4"); !errors.Is(err, ErrBadSignature) {
		t.Errorf("wrong secret: %v", err)
	}
	if _, err := b.Authenticate(signed("nobody", "x"), []byte("body"), "1.2.3.4"); !errors.Is(err, ErrUnknownAccessKey) {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := b.Authenticate(map[string]string{"topic": "t"}, nil, "1.2.3.4"); !errors.Is(err, ErrNoAccessKey) {
		t.Errorf("no key: %v", err)
	}
	// root's whitelisted address passes unsigned.
	id, err = b.Authenticate(map[string]string{FieldAccessKey: "root-ak"}, nil, "10.0.0.2")
	if err != nil || !id.Trusted || !id.Admin {
		t.Errorf("root from its address: %+v %v", id, err)
	}
	if _, err := b.Authenticate(map[string]string{FieldAccessKey: "root-ak"}, nil, "10.0.0.3"); err == nil {
		t.Error("root unsigned from another address")
	}
	if !b.IsAdmin(User("root")) || b.IsAdmin(User("alice")) {
		t.Error("IsAdmin")
	}
	if err := b.SetGlobalWhitelist([]string{"192.168.*"}); err != nil {
		t.Fatal(err)
	}
	if id, err := b.Authenticate(nil, nil, "192.168.7.7"); err != nil || !id.Trusted {
		t.Errorf("global whitelist: %+v %v", id, err)
	}
	if ok, err := b.Delete("alice"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	c, _ := OpenAccounts(dir)
	if accs, wl := c.List(); len(accs) != 1 || len(wl) != 1 {
		t.Errorf("after delete: %v %v", accs, wl)
	}
}

func TestAddressMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, ip string
		want        bool
	}{
		{"*", "1.2.3.4", true},
		{"1.2.3.4", "1.2.3.4", true},
		{"1.2.3.4", "1.2.3.5", false},
		{"192.168.*.*", "192.168.9.9", true},
		{"192.168.*", "192.168.9.9", true},
		{"192.168.*", "192.169.9.9", false},
		{"10.0.0.{1,2}", "10.0.0.2", true},
		{"10.0.0.{1,2}", "10.0.0.3", false},
		{"10.0.0.1-9", "10.0.0.9", true},
		{"10.0.0.1-9", "10.0.0.10", false},
		{"10.0.0", "10.0.0.1", false},
		{"::1", "::1", true},
		{"", "1.2.3.4", false},
	} {
		if got := AddressMatches(tc.pattern, tc.ip); got != tc.want {
			t.Errorf("%q ~ %q = %v", tc.pattern, tc.ip, got)
		}
	}
}

func TestPermACLs(t *testing.T) {
	acls, err := PermACLs(User("alice"), []string{"orders=PUB|SUB", "secret=DENY", "logs=SUB"}, []string{"g1=SUB"}, "PUB", "DENY")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := OpenAuthorizer("", Policy{})
	if _, err := a.Create(acls); err != nil {
		t.Fatal(err)
	}
	alice := User("alice")
	for _, tc := range []struct {
		op   Operation
		typ  ResourceType
		name string
		want bool
	}{
		{OpWrite, ResourceTopic, "orders", true},
		{OpRead, ResourceTopic, "orders", true},
		{OpWrite, ResourceTopic, "anything", true}, // defaultTopicPerm PUB
		{OpRead, ResourceTopic, "anything", false},
		{OpWrite, ResourceTopic, "secret", false}, // DENY wins over the default
		{OpRead, ResourceTopic, "logs", true},
		{OpRead, ResourceGroup, "g1", true},
		{OpRead, ResourceGroup, "g2", false}, // defaultGroupPerm DENY
	} {
		if got := a.Authorize(alice, "h", tc.op, tc.typ, tc.name); got != tc.want {
			t.Errorf("%s %s:%s = %v", tc.op, tc.typ, tc.name, got)
		}
	}
	if _, err := PermACLs(User("a"), []string{"t=FLY"}, nil, "", ""); err == nil {
		t.Error("bad permission accepted")
	}
	if _, err := PermACLs(User("a"), []string{"nameless"}, nil, "", ""); err == nil {
		t.Error("perm without a name accepted")
	}
}

// FuzzSignatureFields: any ext fields and body sign and verify, a change
// to any value fails, and nothing panics. Input: NUL-separated
// key/value pairs, then the body after a 0xff byte.
func FuzzSignatureFields(f *testing.F) {
	f.Add([]byte("AccessKey\x00ak\x00topic\x00t\x00queueId\x001\xffbody"), "secret")
	f.Add([]byte("Signature\x00x\x00SecurityToken\x00tok\xff"), "k")
	f.Add([]byte(""), "")
	f.Fuzz(func(t *testing.T, in []byte, secret string) {
		fields := map[string]string{}
		head, body := in, []byte(nil)
		for i, c := range in {
			if c == 0xff {
				head, body = in[:i], in[i+1:]
				break
			}
		}
		var parts []string
		start := 0
		for i := 0; i <= len(head); i++ {
			if i == len(head) || head[i] == 0 {
				parts = append(parts, string(head[start:i]))
				start = i + 1
			}
		}
		for i := 0; i+1 < len(parts); i += 2 {
			fields[parts[i]] = parts[i+1]
		}
		delete(fields, FieldSignature)
		fields[FieldSignature] = Sign(fields, body, secret)
		if !VerifySignature(fields, body, secret) {
			t.Fatalf("own signature does not verify: %q", fields)
		}
		_, tok := fields[FieldSecurityToken]
		for k, v := range fields {
			// With a SecurityToken, the unsigned-token fallback lets its
			// value move into the field sorted before it (RocketMQ's
			// content has no separators), so only tokenless requests
			// are checked here.
			if k == FieldSignature || tok {
				continue
			}
			m := maps.Clone(fields)
			m[k] = v + "x"
			if VerifySignature(m, body, secret) {
				t.Fatalf("changed %q still verifies", k)
			}
		}
		accs, _ := OpenAccounts("")
		if err := accs.Put(Account{Name: "fz", AccessKey: "fuzz-ak", SecretKey: "fuzz-secret"}); err != nil {
			t.Fatal(err)
		}
		fields[FieldAccessKey] = "fuzz-ak"
		_, _ = accs.Authenticate(fields, body, string(head))
	})
}
