package jsonstr

import "testing"

// The expected strings are what Node's JSON.stringify gives for the same
// input (checked in node 20: JSON.stringify("a\u2028<b>&")...).
func TestAppend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "plain", in: "hello", want: `"hello"`},
		{name: "quote and backslash", in: `a"b\c`, want: `"a\"b\\c"`},
		{name: "controls", in: "\n\r\t\b\f\x01\x1f", want: `"\n\r\t\b\f\u0001\u001f"`},
		{name: "no html escaping", in: "<a>&", want: `"<a>&"`},
		{name: "line separators kept", in: "\u2028\u2029", want: "\"\u2028\u2029\""},
		{name: "non-ascii", in: "é😀", want: `"é😀"`},
		{name: "invalid utf-8", in: "a\xffb", want: "\"a\uFFFDb\""},
		{name: "DEL kept", in: "\x7f", want: "\"\x7f\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := string(Append(nil, tt.in)); got != tt.want {
				t.Errorf("Append(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}
