//go:build unix && !linux

package vfs

import "golang.org/x/sys/unix"

// fdatasync falls back to fsync where the kernel has no fdatasync.
func fdatasync(fd int) error { return unix.Fsync(fd) }
