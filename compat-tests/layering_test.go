package compattests

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/twinmq/twinmq"

// TestLayering checks DESIGN.md section 2 with `go list -deps` over the
// direct imports of every package of the module (test-only imports are
// free): wire and
// storage import neither each other nor broker, netio or nameserver;
// broker services reach storage only through its facade and wire not at
// all (only the adapters import wire); netio imports nothing of twinmq;
// nothing imports cmd or compat-tests.
func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test", "-f", "{{.ImportPath}}:{{join .Imports \" \"}}", module+"/...").Output()
	if err != nil {
		t.Skipf("go list: %v", err) // e.g. a package of the tree does not build right now
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, ":")
		if !strings.HasPrefix(pkg, module) || strings.Contains(pkg, " [") || strings.HasSuffix(pkg, ".test") {
			continue // std, or a test variant: tests may import more
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
		for _, d := range strings.Fields(deps) {
			if !strings.HasPrefix(d, module+"/") {
				continue
			}
			if msg := layerViolation(rel, strings.TrimPrefix(d, module+"/")); msg != "" {
				t.Errorf("%s imports %s: %s", rel, d, msg)
			}
		}
	}
}

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// layerViolation says why pkg may not depend on dep, or "".
func layerViolation(pkg, dep string) string {
	switch {
	case (under(dep, "cmd") && !under(pkg, "cmd")) || under(dep, "compat-tests"):
		return "nothing imports cmd or compat-tests"
	case under(pkg, "netio"):
		return "netio knows bytes only"
	case under(pkg, "wire") && !under(dep, "wire"):
		return "wire imports no other twinmq layer"
	case under(pkg, "storage") && !under(dep, "storage"):
		return "storage imports no other twinmq layer"
	case under(pkg, "broker") && !isAdapter(pkg) && under(dep, "wire"):
		return "only the adapters import wire"
	case under(pkg, "broker") && !isAdapter(pkg) && under(dep, "netio"):
		return "broker services do not do network I/O"
	case under(pkg, "broker") && under(dep, "storage/"):
		return "broker packages use the storage facade only"
	}
	return ""
}

// isAdapter reports the protocol adapters. broker/convert counts as
// adapter code: it converts one protocol's stored entry for the other's
// reader (DESIGN.md section 3), which needs both wire codecs.
func isAdapter(pkg string) bool {
	return under(pkg, "broker/kafkaapi") || under(pkg, "broker/remotingapi") || under(pkg, "broker/convert")
}
