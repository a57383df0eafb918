package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/twinmq/twinmq/wire/remoting"
)

// groupCommand makes c, a command that only holds subcommands, fail
// (exit 1) when it is given an unknown subcommand or none: cobra would
// print its help and exit 0, so a typo (`twinmq topic lst`) looked like
// success to a script.
func groupCommand(c *cobra.Command) *cobra.Command {
	c.Args = cobra.ArbitraryArgs
	c.SilenceUsage = true
	c.SuggestionsMinimumDistance = 2
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("%s: a subcommand is required (%s)", commandName(cmd), subcommands(cmd))
		}
		msg := fmt.Sprintf("%s: unknown subcommand %q (%s)", commandName(cmd), args[0], subcommands(cmd))
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return errors.New(msg)
	}
	return c
}

// subcommands lists cmd's subcommands for an error message.
func subcommands(cmd *cobra.Command) string {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return "one of: " + strings.Join(names, ", ")
}

// commandName is cmd's path without the root's name, which main prints
// already ("twinmq: topic create: ...").
func commandName(cmd *cobra.Command) string {
	p := cmd.CommandPath()
	if i := strings.IndexByte(p, ' '); i >= 0 {
		return p[i+1:]
	}
	return p
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// explainPort adds to a Kafka client's error what the address is when it
// is a RocketMQ remoting port (twinmq's, or a name server): a Kafka
// client dialling it sees its connection closed and franz-go guesses at
// TLS. It asks each address the remoting question of a request code
// nobody serves; an answer in the remoting framing tells.
func explainPort(bootstrap string, err error) error {
	for _, addr := range strings.Split(bootstrap, ",") {
		if remotingAnswers(addr) {
			return fmt.Errorf("%s is a RocketMQ remoting port (twinmq's broker or name server), not a Kafka listener: "+
				"point --bootstrap-server at the Kafka port (kafkaAddr, default :9092): %w", addr, err)
		}
	}
	return err
}

// remotingAnswers reports whether addr answers a remoting request.
func remotingAnswers(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	req := remoting.NewRequest(0, 1) // no server serves code 0
	if _, err := c.Write(remoting.AppendCommand(nil, req)); err != nil {
		return false
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return false
	}
	n := int(size[0])<<24 | int(size[1])<<16 | int(size[2])<<8 | int(size[3])
	if n < 4 || n > 1<<20 {
		return false
	}
	frame := make([]byte, n)
	if _, err := io.ReadFull(c, frame); err != nil {
		return false
	}
	resp, err := remoting.Decode(frame)
	return err == nil && resp.IsResponse()
}

// portInUse names the setting and its flag when err is a listener's
// address in use, so that the message says what to change:
// "kafkaAddr :9092 is in use (set another with --kafka-addr)".
func portInUse(err error, key, addr string) error {
	if err == nil || (!errors.Is(err, syscall.EADDRINUSE) && !strings.Contains(err.Error(), "address already in use")) {
		return err
	}
	return fmt.Errorf("%s %s is in use (set another with --%s): %w", key, addr, kebab(key), err)
}

// kebab turns a config key into its flag name (kafkaAddr -> kafka-addr).
func kebab(key string) string {
	var b strings.Builder
	for _, r := range key {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('-')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
