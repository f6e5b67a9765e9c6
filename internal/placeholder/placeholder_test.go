package placeholder

import (
	"encoding/json"
	"testing"
)

func TestAppend(t *testing.T) {
	got := Append([]byte("["), 12)
	if string(got) != `[{"_placeholder":true,"num":12}` {
		t.Fatalf("Append = %s", got)
	}
	var v struct {
		Placeholder bool `json:"_placeholder"`
		Num         int  `json:"num"`
	}
	if err := json.Unmarshal(got[1:], &v); err != nil || !v.Placeholder || v.Num != 12 {
		t.Fatalf("not a placeholder: %s (%v)", got[1:], err)
	}
}
