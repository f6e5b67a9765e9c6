// Package lockcheck finds the mutexes declared in the repository's Go code,
// so that a test can hold LOCKS.md to naming every one of them.
package lockcheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
)

// Mutexes returns the name of every struct field of type sync.Mutex or
// sync.RWMutex (named or embedded) declared in the non-test Go files under
// root, as "pkg.Type.field": pkg is the package name (the directory name
// for package main), Type the struct's type name (or variable name, for a
// struct-typed variable), and an anonymous struct field adds its own name
// ("pkg.Type.field.sub"). An embedded mutex is named Mutex or RWMutex.
// Directories named testdata or node_modules, and hidden ones, are
// skipped.
func Mutexes(root string) ([]string, error) {
	var out []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		out = append(out, fileMutexes(f, filepath.Base(filepath.Dir(path)))...)
		return nil
	})
	sort.Strings(out)
	return dedup(out), err
}

func fileMutexes(f *ast.File, dir string) []string {
	pkg := f.Name.Name
	if pkg == "main" {
		pkg = dir
	}
	syncName := ""
	for _, imp := range f.Imports {
		if imp.Path.Value == `"sync"` {
			syncName = "sync"
			if imp.Name != nil {
				syncName = imp.Name.Name
			}
		}
	}
	if syncName == "" {
		return nil
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.TypeSpec:
			if st, ok := n.Type.(*ast.StructType); ok {
				out = append(out, structMutexes(st, pkg+"."+n.Name.Name, syncName)...)
			}
		case *ast.ValueSpec:
			if st, ok := n.Type.(*ast.StructType); ok {
				for _, id := range n.Names {
					out = append(out, structMutexes(st, pkg+"."+id.Name, syncName)...)
				}
			}
		}
		return true
	})
	return out
}

func structMutexes(st *ast.StructType, prefix, syncName string) []string {
	var out []string
	for _, field := range st.Fields.List {
		if inner, ok := field.Type.(*ast.StructType); ok {
			for _, id := range field.Names {
				out = append(out, structMutexes(inner, prefix+"."+id.Name, syncName)...)
			}
			continue
		}
		kind := mutexKind(field.Type, syncName)
		if kind == "" {
			continue
		}
		if len(field.Names) == 0 {
			out = append(out, prefix+"."+kind)
		}
		for _, id := range field.Names {
			out = append(out, prefix+"."+id.Name)
		}
	}
	return out
}

// mutexKind returns "Mutex" or "RWMutex" when t is sync.Mutex or
// sync.RWMutex (or a pointer to one), else "".
func mutexKind(t ast.Expr, syncName string) string {
	if star, ok := t.(*ast.StarExpr); ok {
		t = star.X
	}
	sel, ok := t.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	if x, ok := sel.X.(*ast.Ident); !ok || x.Name != syncName {
		return ""
	}
	if sel.Sel.Name == "Mutex" || sel.Sel.Name == "RWMutex" {
		return sel.Sel.Name
	}
	return ""
}

func dedup(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
