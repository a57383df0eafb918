package auth

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpenUsers reads arbitrary bytes as the credentials file: an error
// or a store whose every credential is usable, never a panic.
func FuzzOpenUsers(f *testing.F) {
	f.Add([]byte(`{"version":1,"users":{"alice":{"SCRAM-SHA-256":{"iterations":4096,"salt":"c2FsdA==","storedKey":"a2V5","serverKey":"a2V5"}}}}`))
	f.Add([]byte(`{"version":1,"users":{"":{}}}`))
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, UsersFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		u, err := OpenUsers(dir)
		if err != nil {
			return
		}
		for _, name := range u.Names() {
			for m, it := range u.Mechanisms(name) {
				c, ok := u.Lookup(name, m)
				if !ok || it < MinIterations || len(c.StoredKey) == 0 {
					t.Fatalf("%s %s: %+v", name, m, c)
				}
				c.Verify(m, "x") // must not panic
			}
		}
	})
}
