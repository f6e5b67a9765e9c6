// Package readme holds the test that keeps the README's Go snippets
// compiling: each ```go block is a whole file (it starts with "package")
// or declarations that the test completes with a package clause and the
// imports their qualified names call for, and `go vet` must accept it.
package readme
