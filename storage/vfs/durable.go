package vfs

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
)

// MkdirAllDurable creates dir and its missing parents and makes each new
// entry durable by syncing its parent directory, from the top down.
func MkdirAllDurable(fsys FS, dir string) error {
	dir = path.Clean(dir)
	var missing []string
	for d := dir; d != "." && d != "/"; d = path.Dir(d) {
		if _, err := fsys.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("vfs: stat %s: %w", d, err)
		}
		missing = append(missing, d)
	}
	if len(missing) == 0 {
		return nil
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("vfs: mkdir %s: %w", dir, err)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := fsys.SyncDir(path.Dir(missing[i])); err != nil {
			return fmt.Errorf("vfs: sync dir %s: %w", path.Dir(missing[i]), err)
		}
	}
	return nil
}
