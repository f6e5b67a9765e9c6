package session_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/pierhq/pier/session"
)

func ExampleManager_Middleware() {
	store := session.NewMemoryStore(nil) // or redisstore.New(rdb, nil), shared with Node
	defer store.Close()
	m, err := session.New(store, &session.Options{Secrets: []string{"keyboard cat"}})
	if err != nil {
		panic(err)
	}
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		var n int
		s.Get("count", &n)
		s.Set("count", n+1)
		fmt.Fprintln(w, "count", n+1)
	}))

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	fmt.Print(w.Body)
	cookie := w.Result().Cookies()[0] // connect.sid=s%3A<id>.<signature>

	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(cookie)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Print(w.Body)
	// Output:
	// count 1
	// count 2
}

func ExampleExpressCodec() {
	c, err := session.NewExpressCodec("keyboard cat")
	if err != nil {
		panic(err)
	}
	v, _ := c.Encode("connect.sid", "abc123XYZ")
	fmt.Println(v)
	var id string
	err = c.Decode("connect.sid", v, &id)
	fmt.Println(id, err)
	// Output:
	// s%3Aabc123XYZ.Hu%2B%2FQcWB2sbFKm1BJ0spZRaNyi%2BHb4YSoHWoi6o1Zbg
	// abc123XYZ <nil>
}
