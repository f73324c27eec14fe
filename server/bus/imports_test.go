package bus_test

import (
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// Package bus is shared plumbing: it imports no other Beacon package, so
// the delivery and emergency packages can depend on it without a cycle.
func TestImportsNothingOfBeacon(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	n := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		n++
		for _, imp := range f.Imports {
			if p := strings.Trim(imp.Path.Value, `"`); p == "beacon" || strings.HasPrefix(p, "beacon/") {
				t.Errorf("%s imports %s", name, p)
			}
		}
	}
	if n == 0 {
		t.Fatal("no source file found")
	}
}
