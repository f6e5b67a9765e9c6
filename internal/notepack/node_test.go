package notepack_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/internal/notepack"
)

// runNotepack runs testdata/redis/notepack.js (notepack.io 3.0.1) and
// returns its JSON lines.
func runNotepack(t *testing.T, stdin string, args ...string) []map[string]string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "redis"))
	if err != nil {
		t.Fatal(err)
	}
	jstest.InstallDir(t, dir)
	cmd := exec.Command("node", append([]string{"notepack.js"}, args...)...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node notepack.js: %v\n%s", err, stderr.String())
	}
	var lines []map[string]string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var m map[string]string
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad line %.200s: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return lines
}

// TestNodeVectors decodes what notepack.io encodes and re-encodes it: the
// bytes must be what notepack.io's own decode and encode give (the bytes
// themselves, but for integral numbers of 2^64 and more, which notepack
// writes as 0).
func TestNodeVectors(t *testing.T) {
	t.Parallel()
	lines := runNotepack(t, "", "vectors")
	if len(lines) < 50 {
		t.Fatalf("only %d vectors", len(lines))
	}
	for _, l := range lines {
		b, _ := hex.DecodeString(l["hex"])
		v, err := notepack.Decode(b)
		if err != nil {
			t.Errorf("%s: decode: %v", l["name"], err)
			continue
		}
		out, err := notepack.Encode(v)
		if err != nil {
			t.Errorf("%s: encode: %v", l["name"], err)
			continue
		}
		if hex.EncodeToString(out) != l["rt"] {
			t.Errorf("%s: re-encoded\n %.200x\nwant %.200s", l["name"], out, l["rt"])
		}
	}
}

// TestNodeDecodesGo gives notepack.io what Go encodes: decoding and
// re-encoding it there must give the same bytes.
func TestNodeDecodesGo(t *testing.T) {
	t.Parallel()
	values := []any{
		nil, notepack.Undefined{}, true, 0, 1, -1, 127, 128, 300, 70000, int64(1) << 40, -(int64(1) << 40), math.MaxInt32 + 1,
		1.5, -0.25, 1.25e-5, math.NaN(), math.Inf(-1), float32(0.5), "", "é€😀", strings.Repeat("s", 40), strings.Repeat("t", 300),
		[]byte{}, []byte{1, 2}, bytes.Repeat([]byte{3}, 300), []any{}, []any{nil, notepack.Undefined{}, "x"},
		notepack.Map{{Key: "type", Value: 2}, {Key: "data", Value: []any{"ev", []byte{0xca, 0xfe}}}, {Key: "nsp", Value: "/"}},
		map[string]any{"b": 1, "a": map[string]any{"c": []any{true}}}, json.RawMessage(`{"z":[1,2.5,"x"]}`),
		time.UnixMilli(0), time.UnixMilli(1500), time.UnixMilli(-1500), time.UnixMilli(17179869184001),
		[]string{"r1", "r2"}, struct {
			A int    `json:"a"`
			B string `json:"b"`
		}{1, "x"},
	}
	var hexes []string
	for _, v := range values {
		b, err := notepack.Encode(v)
		if err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		hexes = append(hexes, hex.EncodeToString(b))
	}
	for i, l := range runNotepack(t, strings.Join(hexes, "\n")+"\n", "roundtrip") {
		if l["error"] != "" || l["out"] != hexes[i] {
			t.Errorf("%#v: Go %s, notepack %s %s", values[i], hexes[i], l["out"], l["error"])
		}
	}
}
