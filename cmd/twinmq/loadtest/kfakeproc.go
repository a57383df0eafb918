package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// ServeKfake runs a kfake cluster of one broker on addr (host:port, port 0
// picks one) until ctx ends, writing "listening <addr>" to w once it
// accepts connections. It is the peer of `twinmq bench kafka
// --kfake-process`: run in a process of its own, kfake pays the same
// process hops as the broker under test.
func ServeKfake(ctx context.Context, port int, w io.Writer) error {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port))
	if err != nil {
		return fmt.Errorf("loadtest: kfake: %w", err)
	}
	defer c.Close()
	if _, err := fmt.Fprintf(w, "listening %s\n", c.ListenAddrs()[0]); err != nil {
		return fmt.Errorf("loadtest: kfake: %w", err)
	}
	<-ctx.Done()
	return nil
}

// StartKfakeProcess starts exe with args (a command that runs ServeKfake)
// in a child process and returns the address it listens on and a stop
// function that kills the child and waits for it.
func StartKfakeProcess(exe string, args ...string) (string, func(), error) {
	addr, _, stop, err := StartServerProcess(exe, args...)
	return addr, stop, err
}

// StartServerProcess starts exe with args, a command that prints
// "listening <addr>" once it serves (ServeKfake, ServeEcho), in a child
// process, and returns that address, the child's pid and a stop function
// that kills the child and waits for it.
func StartServerProcess(exe string, args ...string) (string, int, func(), error) {
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, fmt.Errorf("loadtest: server process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, fmt.Errorf("loadtest: server process: %w", err)
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	type line struct {
		s   string
		err error
	}
	lines := make(chan line, 1)
	go func() {
		s, err := bufio.NewReader(stdout).ReadString('\n')
		lines <- line{s, err}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-lines:
		addr, ok := strings.CutPrefix(strings.TrimSpace(l.s), "listening ")
		if l.err != nil || !ok || addr == "" {
			stop()
			return "", 0, nil, fmt.Errorf("loadtest: server process said %q: %w", l.s, errors.Join(l.err, errors.New("no address")))
		}
		return addr, cmd.Process.Pid, stop, nil
	case <-time.After(30 * time.Second):
		stop()
		return "", 0, nil, errors.New("loadtest: server process: no address within 30s")
	}
}
