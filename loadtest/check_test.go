package loadtest

import (
	"os"
	"strings"
	"testing"
	"time"
)

func goodRun() Observed {
	return Observed{
		Stock:       3,
		Lots:        []LotState{{ID: 1, Received: 3, OnHand: 1, Deducted: 3, Restored: 1}},
		OrderStatus: map[string]string{"a": "PAID", "b": "PAID", "c": "FAILED", "d": "FAILED"},
		OrderUnits:  map[string]int64{"a": 1, "b": 1, "c": 1, "d": 1},
		Payments: []Payment{
			{PartnerOrderID: "a", Status: "SUCCESS_PAYMENT", Amount: 100, Approvals: 1},
			{PartnerOrderID: "b", Status: "SUCCESS_PAYMENT", Amount: 100, Approvals: 1},
			{PartnerOrderID: "c", Status: "FAIL_PAYMENT", Amount: 100},
			{PartnerOrderID: "d", Status: "CANCEL_PAYMENT", Amount: 100, Canceled: 100, Approvals: 1},
			{PartnerOrderID: "other-run", Status: "SUCCESS_PAYMENT", Amount: 100, Approvals: 1},
		},
	}
}

func TestCheckPassesAGoodRun(t *testing.T) {
	v := Check(goodRun())
	if !v.OK() || v.OrdersPaid != 2 || v.UnitsSold != 2 {
		t.Errorf("verdict = %+v", v)
	}
}

func TestCheckFlagsBrokenRuns(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(*Observed)
		want    string
		count   func(Verdict) int64
	}{
		{"an oversold unit", func(o *Observed) {
			o.Stock = 1
		}, "oversold", func(v Verdict) int64 { return v.Oversold }},
		{"a negative lot", func(o *Observed) {
			o.Lots[0] = LotState{ID: 1, Received: 3, OnHand: -1, Deducted: 4}
		}, "oversold", func(v Verdict) int64 { return v.Oversold }},
		{"a charge without an order", func(o *Observed) {
			o.Payments[2].Status = "SUCCESS_PAYMENT"
		}, "money taken", func(v Verdict) int64 { return v.TakenWithoutOrder }},
		{"a paid order without a charge", func(o *Observed) {
			o.Payments[1].Status = "FAIL_PAYMENT"
		}, "no payment", func(v Verdict) int64 { return v.PaidWithoutMoney }},
		{"a double charge", func(o *Observed) {
			o.Payments[0].Approvals = 2
		}, "approved 2 times", func(v Verdict) int64 { return v.DoubleCharged }},
		{"a lot that does not add up", func(o *Observed) {
			o.Lots[0].WrittenOff = 1
		}, "not conserved", func(v Verdict) int64 { return v.NotConserved }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := goodRun()
			tt.breakIt(&o)
			v := Check(o)
			if v.OK() || tt.count(v) == 0 {
				t.Fatalf("verdict = %+v, want it flagged", v)
			}
			if !strings.Contains(strings.Join(v.Problems, "\n"), tt.want) {
				t.Errorf("problems %q lack %q", v.Problems, tt.want)
			}
		})
	}
}

func TestRecorder(t *testing.T) {
	r := NewRecorder()
	for i := 1; i <= 100; i++ {
		r.Observe("order", time.Duration(i)*time.Millisecond, "")
	}
	r.Observe("order", 5000, "insufficient_stock")
	s := r.Summary()
	if len(s.Steps) != 1 || s.Steps[0].Count != 101 || s.Errors["order: insufficient_stock"] != 1 {
		t.Fatalf("summary = %+v", s)
	}
	if p := s.Steps[0].P50; p < 49 || p > 51 {
		t.Errorf("p50 = %v ms, want about 50", p)
	}
	if pr := r.Progress(); pr.Requests != 101 || pr.Errors != 1 {
		t.Errorf("progress = %+v", pr)
	}
}

func TestProcessCPUAndPerCheckout(t *testing.T) {
	// Work until this process has used a tick (10 ms) of CPU or more.
	var self time.Duration
	var err error
	sum := 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		for i := 0; i < 1_000_000; i++ {
			sum += i % 7
		}
		if self, err = ProcessCPU(os.Getpid()); err != nil || self > 0 {
			break
		}
	}
	if err != nil || self <= 0 {
		t.Fatalf("own CPU = %v, %v (after work %d)", self, err, sum)
	}
	a := CPUReading{Node: time.Second, MySQL: 2 * time.Second, Self: time.Second, ok: true}
	b := CPUReading{Node: 3 * time.Second, MySQL: 3 * time.Second, Self: 1500 * time.Millisecond, ok: true}
	got, ok := PerCheckout(a, b, 1000)
	if !ok || got.Node != 2 || got.MySQL != 1 || got.Total != 3 || got.LoadGenerator != 0.5 {
		t.Errorf("per checkout = %+v, %v; want node 2 ms, mysql 1 ms (total 3), load generator 0.5 ms", got, ok)
	}
	if _, ok := PerCheckout(CPUReading{}, b, 10); ok {
		t.Error("a failed reading gave a figure")
	}
	if _, ok := PerCheckout(a, b, 0); ok {
		t.Error("no paid checkout gave a figure")
	}
}
