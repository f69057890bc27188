package api

import (
	"errors"
	"testing"
)

// FuzzDecodeRequests feeds arbitrary bytes to the strict decoder and the
// validation of every request type: it must never panic, and every refusal
// must be a 400 with a code.
func FuzzDecodeRequests(f *testing.F) {
	for _, seed := range []string{
		`{"email":"a@b.test","password":"password1","name":"N","address":{"label":"x","lat":1,"lng":2}}`,
		`{"name":"W","region":"R","lat":37,"lng":127,"radius_km":5}`,
		`{"sku":"A-1","name":"n","category":"c","price":100,"min_shelf_life_hours":3}`,
		`{"lat":1e309,"lng":-0}`,
		`{"email":"\u0000","password":null}`,
		`[]`, `"x"`, `{"a":1}{}`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		targets := []func() any{
			func() any { return &signupRequest{} },
			func() any { return &loginRequest{} },
			func() any { return &addressRequest{} },
			func() any { return &warehouseRequest{} },
			func() any { return &productRequest{} },
		}
		for _, mk := range targets {
			v := mk()
			err := decodeStrict(data, v)
			if err == nil {
				if val, ok := v.(interface{ validate() error }); ok {
					err = val.validate()
				}
			}
			if err == nil {
				continue
			}
			ae := toError(err)
			if ae.Status != 400 || ae.Code == "" {
				var plain *Error
				t.Fatalf("input %q gave %v (typed api error: %v), want a 400 with a code", data, ae, errors.As(err, &plain))
			}
		}
	})
}
