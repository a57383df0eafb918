package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
)

func TestUsersDurableAndVerify(t *testing.T) {
	dir := t.TempDir()
	u, err := OpenUsers(dir)
	if err != nil {
		t.Fatal(err)
	}
	c256, err := PasswordCredential(ScramSHA256, "s3cret", 4096)
	if err != nil {
		t.Fatal(err)
	}
	c512, err := PasswordCredential(ScramSHA512, "s3cret", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Apply(Change{"alice", ScramSHA256, &c256}, Change{"alice", ScramSHA512, &c512}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, UsersFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "s3cret") {
		t.Fatal("the password is in the file")
	}
	// Reopen: the credentials survived, PLAIN checks against them, and an
	// xdg-go/scram client logs in against the server built on them.
	u2, err := OpenUsers(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !u2.VerifyPlain("alice", "s3cret") || u2.VerifyPlain("alice", "wrong") || u2.VerifyPlain("bob", "s3cret") {
		t.Fatal("VerifyPlain")
	}
	for _, m := range Mechanisms {
		for _, pw := range []string{"s3cret", "wrong"} {
			srv, _ := m.HashGenerator().NewServer(func(name string) (scram.StoredCredentials, error) {
				c, ok := u2.Lookup(name, m)
				if !ok {
					return scram.StoredCredentials{}, ErrNoCredential
				}
				return c.Stored(), nil
			})
			cl, _ := m.HashGenerator().NewClient("alice", pw, "")
			sc, cc := srv.NewConversation(), cl.NewConversation()
			c1, _ := cc.Step("")
			s1, err := sc.Step(c1)
			if err != nil {
				t.Fatal(err)
			}
			c2, _ := cc.Step(s1)
			_, err = sc.Step(c2)
			if (err == nil) != (pw == "s3cret") || sc.Valid() != (pw == "s3cret") {
				t.Fatalf("%s with %q: err %v valid %v", m, pw, err, sc.Valid())
			}
		}
	}
	if err := u2.Apply(Change{"alice", ScramSHA256, nil}); err != nil {
		t.Fatal(err)
	}
	if err := u2.Apply(Change{"alice", ScramSHA256, nil}); !errors.Is(err, ErrNoCredential) {
		t.Fatalf("second delete: %v", err)
	}
	u3, _ := OpenUsers(dir)
	if got := u3.Mechanisms("alice"); len(got) != 1 || got[ScramSHA512] != DefaultIterations {
		t.Fatalf("after delete: %v", got)
	}
	if _, err := PasswordCredential(ScramSHA256, "x", 1000); !errors.Is(err, ErrBadCredential) {
		t.Fatalf("1000 iterations: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, UsersFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenUsers(dir); !errors.Is(err, ErrCorruptUsers) {
		t.Fatalf("corrupt file: %v", err)
	}
}
