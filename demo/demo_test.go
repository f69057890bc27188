package demo_test

import (
	"context"
	"testing"
	"time"

	"shelflife/demo"
	"shelflife/domain"
	"shelflife/persistence/mysqlstore/mysqltest"
)

func TestSeedTwice(t *testing.T) {
	t.Parallel()
	s := mysqltest.New(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	first, err := demo.Seed(ctx, s, "$2a$04$hash", now)
	if err != nil {
		t.Fatal(err)
	}
	if first.Warehouses != 4 || first.Products < 30 || first.Users != 3 || first.Lots == 0 {
		t.Errorf("first seed = %+v, want 4 warehouses, 30+ products, 3 users, some lots", first)
	}
	second, err := demo.Seed(ctx, s, "$2a$04$hash", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if second.Warehouses != 0 || second.Products != 0 || second.Lots != 0 {
		t.Errorf("second seed created %+v, want nothing new", second)
	}
	// Weeks later every demo lot has expired: seeding restocks the demo.
	later, err := demo.Seed(ctx, s, "$2a$04$hash", now.Add(60*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if later.Lots == 0 || later.Warehouses != 0 {
		t.Errorf("seed after every lot expired = %+v, want new lots only", later)
	}
	var lots, categories int
	if err := s.DB().QueryRow("SELECT COUNT(*) FROM lots").Scan(&lots); err != nil {
		t.Fatal(err)
	}
	if lots != first.Lots+later.Lots {
		t.Errorf("lots table has %d rows, want %d", lots, first.Lots+later.Lots)
	}
	if err := s.DB().QueryRow("SELECT COUNT(*) FROM categories").Scan(&categories); err != nil {
		t.Fatal(err)
	}
	if categories < 6 {
		t.Errorf("%d categories, want 6+", categories)
	}
	// Expiries are spread: some within 6 h, some within 48 h, some weeks away.
	var soon, closing, far int
	if err := s.DB().QueryRow(`SELECT
		SUM(expires_at <= ? ), SUM(expires_at > ? AND expires_at <= ?), SUM(expires_at > ?) FROM lots`,
		now.Add(6*time.Hour), now.Add(6*time.Hour), now.Add(48*time.Hour), now.Add(14*24*time.Hour)).Scan(&soon, &closing, &far); err != nil {
		t.Fatal(err)
	}
	if soon == 0 || closing == 0 || far == 0 {
		t.Errorf("expiries within 6 h: %d, 6-48 h: %d, 2+ weeks: %d; want some of each", soon, closing, far)
	}
	u, err := s.UserByEmail(ctx, demo.Shopper2Email)
	if err != nil || u.Address == nil || u.Role != domain.RoleShopper {
		t.Errorf("shopper2 = %+v, %v", u, err)
	}
}

func TestNeighbourhoodCoverage(t *testing.T) {
	want := map[string]int{"yeonhui": 2, "samseong": 2, "jamsil": 1, "suwon": 0}
	for _, n := range demo.Neighbourhoods {
		served := 0
		for _, w := range demo.Warehouses {
			if w.Area().Serves(n.Address) {
				served++
			}
		}
		if served != want[n.Key] {
			t.Errorf("%s is served by %d warehouses, want %d", n.Key, served, want[n.Key])
		}
	}
}
