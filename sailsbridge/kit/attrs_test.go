package kit

import (
	"fmt"
	"testing"
)

func TestCoerce(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		in   any
		want any // nil: refused
	}{
		{TypeString, "a", "a"},
		{TypeString, int64(5), "5"},
		{TypeString, 1.5, "1.5"},
		{TypeString, true, "true"},
		{TypeString, nil, nil},
		{TypeString, map[string]any{"a": int64(1)}, nil},
		{TypeString, []any{int64(1)}, nil},
		{TypeNumber, int64(5), int64(5)},
		{TypeNumber, 2.5, 2.5},
		{TypeNumber, "07", int64(7)},
		{TypeNumber, "2.5", 2.5},
		{TypeNumber, "x", nil},
		{TypeNumber, true, nil},
		{TypeNumber, nil, nil},
		{TypeBoolean, false, false},
		{TypeBoolean, "true", true},
		{TypeBoolean, "1", nil},
		{TypeBoolean, int64(1), nil},
		{TypeJSON, nil, "<nil>"},
		{TypeRef, map[string]any{}, "map[]"},
	} {
		got, why, ok := coerce(tc.typ, tc.in)
		switch {
		case tc.want == nil && ok:
			t.Errorf("coerce(%s, %#v) = %#v, want refused", tc.typ, tc.in, got)
		case tc.want == nil && why == "":
			t.Errorf("coerce(%s, %#v): refused without a reason", tc.typ, tc.in)
		case tc.want != nil && !ok:
			t.Errorf("coerce(%s, %#v) refused: %s", tc.typ, tc.in, why)
		case tc.want != nil && tc.typ != TypeJSON && tc.typ != TypeRef && got != tc.want:
			t.Errorf("coerce(%s, %#v) = %#v, want %#v", tc.typ, tc.in, got, tc.want)
		case (tc.typ == TypeJSON || tc.typ == TypeRef) && fmt.Sprint(got) != tc.want:
			t.Errorf("coerce(%s, %#v) = %#v", tc.typ, tc.in, got)
		}
	}
}
