package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// outputFormat is cmd's --format (text when it has none).
func outputFormat(cmd *cobra.Command) string {
	fl := cmd.Flags().Lookup("format")
	if fl == nil || isKcatFormat(cmd) {
		return "text"
	}
	return fl.Value.String()
}

// writeOutput prints v as --format asks: JSON (indented) or YAML, made
// from v's JSON form so that both carry the same names, or text.
func writeOutput(cmd *cobra.Command, v any, text func(io.Writer) error) error {
	out := cmd.OutOrStdout()
	switch f := outputFormat(cmd); f {
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("yaml output: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber() // offsets and times stay integers, not 1.7e+12
		var generic any
		if err := dec.Decode(&generic); err != nil {
			return fmt.Errorf("yaml output: %w", err)
		}
		y, err := yaml.Marshal(numbers(generic))
		if err != nil {
			return fmt.Errorf("yaml output: %w", err)
		}
		_, err = out.Write(y)
		return err
	case "text":
		return text(out)
	default:
		return fmt.Errorf("--format %q: want text, json or yaml", f)
	}
}

// numbers replaces the json.Numbers in v with int64 or float64 values.
func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	}
	return v
}
