// Package deploytest runs the deployment examples of deploy/ (one shell
// script per RocketMQ deployment mode) against a freshly built twinmq:
// each script must bring up every broker of its mode, as `twinmq cluster
// info` sees them, and stop every process it started on Ctrl-C. The
// package holds only that test; it is skipped with -short.
//
// The scripts use 127.0.3.0/24 with the default ports (as hosts of a real
// deployment would); no other test uses those addresses. A test finding
// one of them taken skips rather than fails.
package deploytest
