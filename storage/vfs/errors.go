package vfs

import "errors"

// ErrLocked is returned by Lock when the file is already locked, by another
// process (OS) or through the same MemFS.
var ErrLocked = errors.New("vfs: lock held by another owner")
