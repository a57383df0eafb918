package layering

import (
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/twinmq/twinmq"

// TestLayering checks docs/design.md section 2 over the non-test imports
// of every package of the module (tests may import more): see
// layerViolation. It parses the files itself rather than asking
// `go list`, so that `go test` knows which files its result depends on
// and never reports a stale cached pass.
func TestLayering(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	imports, files, err := moduleImports(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(imports) < 10 {
		t.Fatalf("found %d packages under %s", len(imports), root)
	}
	checked := 0
	for pkg, deps := range imports {
		for dep := range deps {
			checked++
			if msg := layerViolation(pkg, dep); msg != "" {
				t.Errorf("%s imports %s: %s", pkg, dep, msg)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no import between twinmq packages was checked")
	}
	logPaths := 0
	for file, deps := range files {
		if isLogPath(file) {
			logPaths++
		}
		for dep := range deps {
			if msg := fileViolation(file, dep); msg != "" {
				t.Errorf("%s imports %s: %s", file, dep, msg)
			}
		}
	}
	if logPaths == 0 {
		t.Fatal("no produce, send, fetch or pull file of an adapter was checked")
	}
}

// moduleRoot is the directory of the go.mod above the test's directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// moduleImports maps each package directory (relative to root) to the
// twinmq packages its non-test files import, all build tags included, and
// each of those files (its path relative to root) to the twinmq packages
// it imports.
func moduleImports(root string) (pkgs, files map[string]map[string]bool, err error) {
	out := map[string]map[string]bool{}
	files = map[string]map[string]bool{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		if out[pkg] == nil {
			out[pkg] = map[string]bool{}
		}
		file := pkg + "/" + name
		files[file] = map[string]bool{}
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return fmt.Errorf("%s: import %s: %w", path, imp.Path.Value, err)
			}
			if dep, ok := strings.CutPrefix(p, module+"/"); ok {
				out[pkg][dep] = true
				files[file][dep] = true
			}
		}
		return nil
	})
	return out, files, err
}

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// adapters speak the wire protocols to the broker services. nameserver is
// a RocketMQ remoting server of its own, and so is controller, which the
// name server hosts (docs/deviations.md #3). The web console speaks HTTP
// and shows both protocols' messages, so it decodes both encodings.
var adapters = []string{"broker/kafkaapi", "broker/remotingapi", "broker/grpcapi", "broker/console", "nameserver", "controller"}

func isAdapter(p string) bool {
	for _, a := range adapters {
		if under(p, a) {
			return true
		}
	}
	return false
}

// layerViolation says why pkg may not import dep, or "".
func layerViolation(pkg, dep string) string {
	switch {
	case under(dep, "compat-tests") || under(dep, "internal/layering"):
		return "nothing imports the tests"
	case under(dep, "cmd") && !under(pkg, "cmd"):
		return "nothing imports cmd"
	case under(pkg, "netio"):
		return "netio knows bytes only"
	case under(pkg, "wire") && !under(dep, "wire"):
		return "wire imports no other twinmq layer"
	case under(pkg, "storage") && !under(dep, "storage"):
		return "storage imports no other twinmq layer"
	case under(dep, "wire") && !under(pkg, "wire") && !under(pkg, "cmd") && !isAdapter(pkg):
		return "only the adapters (and wire/xproto) speak wire"
	case under(dep, "netio") && !under(pkg, "cmd") && !isAdapter(pkg):
		return "only the adapters do network I/O"
	case (under(pkg, "broker") || under(pkg, "nameserver")) && strings.HasPrefix(dep, "storage/"):
		return "broker packages use the storage facade only"
	}
	return ""
}

// isLogPath reports whether file is an adapter's file of the produce,
// send, fetch or pull path: its name says so (00_produce.go,
// xproto_produce.go, send.go, sendback.go, delay_resend.go, 01_fetch.go,
// xproto_fetchcache.go, pull.go, xproto_pullcache.go,
// 02_list_offsets.go, the gRPC adapter's receive.go, ...).
func isLogPath(file string) bool {
	name := file[strings.LastIndex(file, "/")+1:]
	if !isAdapter(file[:max(strings.LastIndex(file, "/"), 0)]) {
		return false
	}
	for _, p := range []string{"produce", "send", "fetch", "pull", "receive", "list_offsets"} {
		if strings.Contains(name, p) {
			return true
		}
	}
	return false
}

// fileViolation says why file may not import dep, or "": the adapters
// append and read through broker/log, which decides when an append is
// acknowledged (flushed, replicated) and what a reader may see (the
// visible end, later the replicated highWatermark), so their produce,
// send, fetch and pull files never reach the store themselves.
func fileViolation(file, dep string) string {
	if isLogPath(file) && under(dep, "storage") {
		return "the produce, send, fetch and pull paths go through broker/log, not storage"
	}
	return ""
}

// TestLayerViolation: the rules flag what they must, so TestLayering can
// fail.
func TestLayerViolation(t *testing.T) {
	cases := []struct {
		pkg, dep string
		bad      bool
	}{
		{"broker/topics", "wire/kafka", true},
		{"broker/delay", "netio", true},
		{"broker/kafkaapi", "wire/kafka", false},
		{"broker/kafkaapi", "wire/xproto", false},
		{"broker/remotingapi", "netio", false},
		{"broker/offsets", "storage", false},
		{"broker/offsets", "storage/commitlog", true},
		{"broker/kafkaapi", "storage/vfs", true},
		{"wire/xproto", "wire/kafka", false},
		{"wire/xproto", "broker/topics", true},
		{"wire/kafka", "storage", true},
		{"storage", "wire/remoting", true},
		{"storage/commitlog", "storage/vfs", false},
		{"netio", "wire/kafka", true},
		{"broker", "cmd/twinmq", true},
		{"cmd/twinmq", "cmd/twinmq/loadtest", false},
		{"cmd/twinmq", "wire/kafka", false},
		{"broker/topics", "compat-tests", true},
		{"nameserver", "wire/remoting", false},
		{"controller", "wire/remoting", false},
		{"controller", "nameserver", false},
		{"broker/grpcapi", "wire/rmqpb", false},
		{"broker/grpcapi", "broker/pop", false},
		{"broker/pop", "broker/kvlog", false},
		{"broker/pop", "wire/rmqpb", true},
		{"broker/pop", "wire/remoting", true},
		{"wire/rmqpb", "broker/pop", true},
		{"wire/rmqpb", "wire/remoting", false},
	}
	for _, c := range cases {
		if got := layerViolation(c.pkg, c.dep) != ""; got != c.bad {
			t.Errorf("%s -> %s: violation %v, want %v", c.pkg, c.dep, got, c.bad)
		}
	}
	files := []struct {
		file, dep string
		bad       bool
	}{
		{"broker/kafkaapi/01_fetch.go", "storage", true},
		{"broker/kafkaapi/01_fetch.go", "broker/log", false},
		{"broker/kafkaapi/xproto_fetchcache.go", "storage", true},
		{"broker/kafkaapi/02_list_offsets.go", "storage", true},
		{"broker/remotingapi/pull.go", "storage", true},
		{"broker/remotingapi/xproto_pullcache.go", "storage/commitlog", true},
		{"broker/kafkaapi/00_produce.go", "storage", true},
		{"broker/kafkaapi/00_produce_delay.go", "storage", true},
		{"broker/kafkaapi/00_produce.go", "broker/log", false},
		{"broker/remotingapi/send.go", "storage", true},
		{"broker/remotingapi/sendback.go", "storage", true},
		{"broker/remotingapi/delay_resend.go", "storage", true},
		{"broker/remotingapi/admin.go", "storage", false},
		{"broker/kafkaapi/delay_build.go", "storage", false},
		{"broker/log/read.go", "storage", false},
		{"cmd/twinmq/fetch.go", "storage", false},
		{"broker/grpcapi/send.go", "storage", true},
		{"broker/grpcapi/receive.go", "storage", true},
		{"broker/grpcapi/receive.go", "broker/log", false},
		{"broker/grpcapi/route.go", "storage", false},
	}
	for _, c := range files {
		if got := fileViolation(c.file, c.dep) != ""; got != c.bad {
			t.Errorf("%s -> %s: violation %v, want %v", c.file, c.dep, got, c.bad)
		}
	}
}
