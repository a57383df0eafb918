package storage

import "flag"

var crashSeeds = flag.Int("crash.seeds", 60, "number of seeds for TestCrashSeeds")
