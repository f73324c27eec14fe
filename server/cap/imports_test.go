package cap

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The package imports nothing else of Beacon's, so the override work, the
// API and the command line can all build on it.
func TestImportsNothingOfBeacon(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if p == "beacon" || strings.HasPrefix(p, "beacon/") {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
}
