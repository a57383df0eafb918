package loadtest

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// getsockname reports the address a listening socket is bound to.
func getsockname(fd int) (string, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return "", err
	}
	if in, ok := sa.(*unix.SockaddrInet4); ok {
		return (&net.TCPAddr{IP: net.IP(in.Addr[:]), Port: in.Port}).String(), nil
	}
	return "", fmt.Errorf("loadtest: unexpected socket address %T", sa)
}

func closeFD(fd int) error { return unix.Close(fd) }
