// Package layering holds no code: its test checks the import rules of
// docs/design.md section 2 over every package of the module, with
// go/parser. It lives in a package of its own, without cgo and without
// dependencies, so that it always builds and runs: it fails, never skips,
// when a rule is broken or the sources cannot be read.
package layering
