package nesting

import (
	"strings"
	"testing"
)

func TestOf(t *testing.T) {
	cases := []struct {
		in   string
		want int
	}{
		{`1`, 0},
		{`"[[["`, 0},
		{`[]`, 1},
		{`["x",{"a":[1,{"b":"]}\"["}]}]`, 4},
		{`[[],[[]],[]]`, 3},
		{strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), MaxDepth},
	}
	for _, c := range cases {
		if got := Of([]byte(c.in)); got != c.want {
			t.Errorf("Of(%s) = %d, want %d", c.in, got, c.want)
		}
	}
}
