// Command twinmq runs a broker that speaks Apache Kafka's wire protocol and
// Apache RocketMQ's remoting protocol over one RocketMQ-style store.
//
// This package only turns flags, environment and a YAML file into a Config,
// constructs the parts and runs them until SIGINT or SIGTERM (docs/design.md section 2).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default handling so a second one
	// kills a shutdown that hangs.
	context.AfterFunc(ctx, stop)
	err := newRootCommand(os.Environ()).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "twinmq: %v\n", err)
		os.Exit(1)
	}
}
