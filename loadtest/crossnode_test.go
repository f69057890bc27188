package loadtest

import "testing"

func TestOnNodeMovesACallbackKeepingPathAndQuery(t *testing.T) {
	tests := []struct{ callback, node, want string }{
		{"http://127.0.0.1:18600/api/v1/payments/kakao/approve?order_id=a&pg_token=b", "http://127.0.0.1:18613",
			"http://127.0.0.1:18613/api/v1/payments/kakao/approve?order_id=a&pg_token=b"},
		{"https://shop.example/api/v1/payments/kakao/approve?x=1", "http://127.0.0.1:8081", "http://127.0.0.1:8081/api/v1/payments/kakao/approve?x=1"},
	}
	for _, tt := range tests {
		got, err := onNode(tt.callback, tt.node)
		if err != nil || got != tt.want {
			t.Errorf("onNode(%q, %q) = %q, %v; want %q", tt.callback, tt.node, got, err, tt.want)
		}
	}
	if _, err := onNode("http://[::1", "http://127.0.0.1:1"); err == nil {
		t.Error("a malformed callback URL was accepted")
	}
}
