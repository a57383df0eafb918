package loadtest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, fixed at 100 on Linux for /proc accounting.
const clockTicks = 100

// ProcessCPU returns a function reporting a process's CPU time (user +
// system) from /proc/<pid>/stat.
func ProcessCPU(pid int) func() (time.Duration, error) {
	return func() (time.Duration, error) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, err
		}
		// Fields after the parenthesised command name: state is field 3,
		// utime 14 and stime 15 (1-based).
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			return 0, fmt.Errorf("loadtest: malformed /proc/%d/stat", pid)
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 13 {
			return 0, fmt.Errorf("loadtest: short /proc/%d/stat", pid)
		}
		ut, err1 := strconv.ParseInt(f[11], 10, 64)
		st, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, fmt.Errorf("loadtest: /proc/%d/stat: bad utime/stime", pid)
		}
		return time.Duration(ut+st) * time.Second / clockTicks, nil
	}
}
