package web

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/go-chi/chi/v5"
)

// TestEveryRouteHasAPolicy walks the router: every route must sit in a
// group with exactly one policy (requireScope or public), so that a route
// added outside the groups fails here instead of being open.
func TestEveryRouteHasAPolicy(t *testing.T) {
	s, err := NewServer(Config{TempDir: t.TempDir()}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	policyMW := reflect.ValueOf(policy{}.Handler).Pointer()
	routes := 0
	err = chi.Walk(s.Handler().(chi.Routes), func(method, route string, _ http.Handler, mws ...func(http.Handler) http.Handler) error {
		routes++
		n := 0
		for _, mw := range mws {
			if reflect.ValueOf(mw).Pointer() == policyMW {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s %s: %d policies, want exactly 1 (put it in a requireScope or public group)", method, route, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if routes < 30 {
		t.Fatalf("walked %d routes: the walk does not see the router", routes)
	}
}
