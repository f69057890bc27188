package api

import (
	"strings"
	"testing"
)

func TestValidation(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	okWarehouse := `{"name":"Mapo","region":"Seoul","lat":37.56,"lng":126.9,"radius_km":5}`
	ts.mustDo("POST", "/api/v1/admin/warehouses", ts.admin, okWarehouse, 201)
	ts.mustDo("POST", "/api/v1/admin/products", ts.admin, `{"sku":"MILK-1L","name":"우유","category":"Dairy","price":2900}`, 201)

	type row struct {
		name   string
		body   string
		status int
		code   string
	}
	common := func(valid string) []row {
		return []row{
			{"empty body", "", 400, "empty_body"},
			{"malformed json", `{"name":`, 400, "malformed_json"},
			{"not an object", `[1,2]`, 400, "invalid_type"},
			{"trailing data", valid + `{}`, 400, "malformed_json"},
			{"unknown field", strings.TrimSuffix(valid, "}") + `,"is_admin":true}`, 400, "unknown_field"},
		}
	}
	endpoints := []struct {
		method, path, token, valid string
		rows                       []row
	}{
		{"POST", "/api/v1/auth/signup", "", `{"email":"new@b.test","password":"password-one","name":"N"}`, []row{
			{"missing email", `{"password":"password1","name":"N"}`, 400, "validation_failed"},
			{"bad email", `{"email":"not-an-email","password":"password1","name":"N"}`, 400, "validation_failed"},
			{"short password", `{"email":"a@b.test","password":"short","name":"N"}`, 400, "validation_failed"},
			{"missing name", `{"email":"a@b.test","password":"password1"}`, 400, "validation_failed"},
			{"email a number", `{"email":5,"password":"password1","name":"N"}`, 400, "invalid_type"},
			{"address lat out of range", `{"email":"a@b.test","password":"password1","name":"N","address":{"lat":91,"lng":0}}`, 400, "validation_failed"},
			{"address without lng", `{"email":"a@b.test","password":"password1","name":"N","address":{"lat":1}}`, 400, "validation_failed"},
		}},
		{"POST", "/api/v1/auth/login", "", `{"email":"kim@shop.test","password":"kim-password"}`, []row{
			{"missing password", `{"email":"kim@shop.test"}`, 400, "validation_failed"},
			{"password a number", `{"email":"kim@shop.test","password":12345678}`, 400, "invalid_type"},
		}},
		{"PUT", "/api/v1/me/address", ts.shopper, `{"label":"home","lat":37.5,"lng":127}`, []row{
			{"lat too big", `{"lat":90.01,"lng":0}`, 400, "validation_failed"},
			{"lng too small", `{"lat":0,"lng":-180.5}`, 400, "validation_failed"},
			{"lat a string", `{"lat":"37.5","lng":127}`, 400, "invalid_type"},
			{"missing lat", `{"lng":127}`, 400, "validation_failed"},
		}},
		{"POST", "/api/v1/admin/warehouses", ts.admin, `{"name":"Gangnam","region":"Seoul","lat":37.49,"lng":127.02,"radius_km":6}`, []row{
			{"missing name", `{"region":"Seoul","lat":37.49,"lng":127.02,"radius_km":6}`, 400, "validation_failed"},
			{"missing region", `{"name":"W","lat":37.49,"lng":127.02,"radius_km":6}`, 400, "validation_failed"},
			{"lat out of range", `{"name":"W","region":"R","lat":-91,"lng":127.02,"radius_km":6}`, 400, "validation_failed"},
			{"lng out of range", `{"name":"W","region":"R","lat":37,"lng":181,"radius_km":6}`, 400, "validation_failed"},
			{"radius zero", `{"name":"W","region":"R","lat":37,"lng":127,"radius_km":0}`, 400, "validation_failed"},
			{"radius negative", `{"name":"W","region":"R","lat":37,"lng":127,"radius_km":-2}`, 400, "validation_failed"},
			{"missing radius", `{"name":"W","region":"R","lat":37,"lng":127}`, 400, "validation_failed"},
			{"radius a string", `{"name":"W","region":"R","lat":37,"lng":127,"radius_km":"5"}`, 400, "invalid_type"},
			{"duplicate name", okWarehouse, 409, "duplicate_name"},
		}},
		{"POST", "/api/v1/admin/products", ts.admin, `{"sku":"EGG-15","name":"계란","name_en":"Eggs","category":"Dairy","price":7490,"min_shelf_life_hours":24}`, []row{
			{"missing sku", `{"name":"n","category":"c","price":1}`, 400, "validation_failed"},
			{"sku with spaces", `{"sku":"A B","name":"n","category":"c","price":1}`, 400, "validation_failed"},
			{"missing name", `{"sku":"S1","category":"c","price":1}`, 400, "validation_failed"},
			{"missing category", `{"sku":"S1","name":"n","price":1}`, 400, "validation_failed"},
			{"missing price", `{"sku":"S1","name":"n","category":"c"}`, 400, "validation_failed"},
			{"negative price", `{"sku":"S1","name":"n","category":"c","price":-1}`, 400, "validation_failed"},
			{"fractional price", `{"sku":"S1","name":"n","category":"c","price":10.5}`, 400, "invalid_type"},
			{"negative shelf life", `{"sku":"S1","name":"n","category":"c","price":1,"min_shelf_life_hours":-1}`, 400, "validation_failed"},
			{"duplicate sku", `{"sku":"MILK-1L","name":"n","category":"c","price":1}`, 409, "duplicate_sku"},
		}},
	}
	for _, ep := range endpoints {
		rows := append(common(ep.valid), ep.rows...)
		for _, r := range rows {
			t.Run(ep.method+" "+ep.path+" "+r.name, func(t *testing.T) {
				status, body := ts.do(ep.method, ep.path, ep.token, r.body)
				if status != r.status {
					t.Fatalf("status %d, want %d; body %s", status, r.status, body)
				}
				if got := errorCode(t, body); got != r.code {
					t.Errorf("code %q, want %q (%s)", got, r.code, body)
				}
			})
		}
		t.Run(ep.method+" "+ep.path+" valid", func(t *testing.T) {
			status, body := ts.do(ep.method, ep.path, ep.token, ep.valid)
			if status >= 300 {
				t.Errorf("valid body: status %d, body %s", status, body)
			}
		})
	}
}

func TestUnknownRoute(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	status, body := ts.do("GET", "/api/v1/no-such-thing", "", "")
	if status != 404 || errorCode(t, body) != "route_not_found" {
		t.Errorf("unknown route: %d %s", status, body)
	}
}

func TestOrderAndCartValidation(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	tests := []struct {
		method, path, body string
		code               string
	}{
		{"POST", "/api/v1/orders", `{}`, "validation_failed"},
		{"POST", "/api/v1/orders", `{"items":[{"product_id":1,"quantity":1}],"from_cart":true}`, "validation_failed"},
		{"POST", "/api/v1/orders", `{"items":[{"product_id":1,"lot_id":2,"quantity":1}]}`, "validation_failed"},
		{"POST", "/api/v1/orders", `{"items":[{"quantity":1}]}`, "validation_failed"},
		{"POST", "/api/v1/orders", `{"items":[{"product_id":1,"quantity":0}]}`, "validation_failed"},
		{"POST", "/api/v1/orders", `{"items":[{"product_id":1,"quantity":100}]}`, "validation_failed"},
		{"POST", "/api/v1/orders", `{"items":[{"product_id":1,"quantity":1,"price":1}]}`, "unknown_field"},
		{"POST", "/api/v1/orders", `{"items":{"product_id":1}}`, "invalid_type"},
		{"PUT", "/api/v1/cart/items", `{"quantity":1}`, "validation_failed"},
		{"PUT", "/api/v1/cart/items", `{"product_id":1,"lot_id":1,"quantity":1}`, "validation_failed"},
		{"PUT", "/api/v1/cart/items", `{"product_id":1,"quantity":-1}`, "validation_failed"},
		{"PUT", "/api/v1/cart/items", `{"product_id":"1","quantity":1}`, "invalid_type"},
		{"DELETE", "/api/v1/cart/items/x9", ``, "invalid_id"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.body, func(t *testing.T) {
			status, body := ts.do(tt.method, tt.path, ts.shopper, tt.body)
			if status != 400 || errorCode(t, body) != tt.code {
				t.Errorf("status %d body %s, want 400 %s", status, body, tt.code)
			}
		})
	}
	for _, path := range []string{"/api/v1/payments/kakao/approve?order_id=o1", "/api/v1/payments/kakao/cancel?nonce=x"} {
		if status, body := ts.do("GET", path, "", ""); status != 400 || errorCode(t, body) != "invalid_callback" {
			t.Errorf("GET %s: %d %s", path, status, body)
		}
	}
}
