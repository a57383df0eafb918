package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// addCPUProfile gives cmd a hidden --cpuprofile flag: when set, the
// command's run is recorded as a pprof CPU profile written to that path
// when it returns (after SIGINT or SIGTERM for serve). It is a tool for
// profiling the broker under `twinmq bench`, not a setting, so it is not a
// config key.
func addCPUProfile(cmd *cobra.Command) {
	var path string
	cmd.Flags().StringVar(&path, "cpuprofile", "", "write a CPU profile of the run to this file")
	_ = cmd.Flags().MarkHidden("cpuprofile")
	inner := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if path == "" {
			return inner(c, args)
		}
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			return fmt.Errorf("cpuprofile: %w", err)
		}
		err = inner(c, args)
		pprof.StopCPUProfile()
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("cpuprofile: %w", cerr)
		}
		return err
	}
}
