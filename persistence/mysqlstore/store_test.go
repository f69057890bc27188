package mysqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"shelflife/domain"
	"shelflife/persistence/mysqlstore"
	"shelflife/persistence/mysqlstore/mysqltest"
)

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDSN(t)
	s := mysqltest.Open(t, dsn) // first run applies everything
	ctx := context.Background()
	n, err := s.Migrate(ctx)
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if n != 0 {
		t.Errorf("second Migrate applied %d migrations, want 0", n)
	}
	migs, err := mysqlstore.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var recorded int
	if err := s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	if recorded != len(migs) {
		t.Errorf("schema_migrations has %d rows, want %d", recorded, len(migs))
	}
}

func TestOpenRejectsBadDSN(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, dsn := range []string{"root@tcp(127.0.0.1:3306)/", "root@tcp(127.0.0.1:3306)/bad-name", "::::"} {
		if s, err := mysqlstore.Open(ctx, mysqlstore.Config{DSN: dsn}); err == nil {
			s.Close()
			t.Errorf("Open(%q) = nil error", dsn)
		}
	}
}

func TestCatalogAndUsers(t *testing.T) {
	t.Parallel()
	s := mysqltest.New(t)
	ctx := context.Background()

	w, err := s.CreateWarehouse(ctx, domain.Warehouse{Name: "Mapo", Region: "Seoul West", Lat: 37.56, Lng: 126.90, RadiusKm: 6})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateWarehouse(ctx, domain.Warehouse{Name: "Mapo", Region: "Seoul West", Lat: 1, Lng: 1, RadiusKm: 1}); !errors.Is(err, domain.ErrDuplicateName) {
		t.Errorf("duplicate warehouse: err = %v, want ErrDuplicateName", err)
	}
	got, err := s.Warehouse(ctx, w.ID)
	if err != nil || got != w {
		t.Errorf("Warehouse(%d) = %+v, %v; want %+v", w.ID, got, err, w)
	}
	if _, err := s.Warehouse(ctx, 999999); !errors.Is(err, domain.ErrUnknownWarehouse) {
		t.Errorf("unknown warehouse: err = %v", err)
	}

	p, err := s.CreateProduct(ctx, domain.Product{SKU: "MILK-1L", Name: "우유 1L", NameEn: "Milk 1L", Category: "Dairy", Price: 2900, MinShelfLife: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProduct(ctx, domain.Product{SKU: "MILK-1L", Name: "x", Category: "Dairy"}); !errors.Is(err, domain.ErrDuplicateSKU) {
		t.Errorf("duplicate sku: err = %v, want ErrDuplicateSKU", err)
	}
	gotP, err := s.Product(ctx, p.ID)
	if err != nil || gotP != p {
		t.Errorf("Product = %+v, %v; want %+v", gotP, err, p)
	}

	u, err := s.CreateUser(ctx, domain.User{Email: "a@b.test", Name: "A", Role: domain.RoleShopper, PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, domain.User{Email: "a@b.test", Name: "B", Role: domain.RoleShopper, PasswordHash: "h"}); !errors.Is(err, domain.ErrEmailTaken) {
		t.Errorf("duplicate email: err = %v", err)
	}
	addr := domain.Address{Label: "Home", Point: domain.Point{Lat: 37.5, Lng: 127}}
	if err := s.SetAddress(ctx, u.ID, addr); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAddress(ctx, u.ID, addr); err != nil {
		t.Errorf("setting the same address again: %v", err)
	}
	if err := s.SetAddress(ctx, 424242, addr); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("address of unknown user: err = %v", err)
	}
	back, err := s.UserByEmail(ctx, "a@b.test")
	if err != nil || back.Address == nil || *back.Address != addr {
		t.Errorf("UserByEmail = %+v, %v", back, err)
	}
	// A shopper's account is never promoted by EnsureUser.
	if _, err := s.EnsureUser(ctx, domain.User{Email: "a@b.test", Role: domain.RoleAdmin}); !errors.Is(err, domain.ErrRoleConflict) {
		t.Errorf("EnsureUser of a shopper's email as admin = %v, want ErrRoleConflict", err)
	}
	same, err := s.EnsureUser(ctx, domain.User{Email: "a@b.test", Role: domain.RoleShopper, PasswordHash: "other"})
	if err != nil || same.Role != domain.RoleShopper || same.ID != u.ID || same.PasswordHash != "h" {
		t.Errorf("EnsureUser of an existing shopper = %+v, %v; want it unchanged", same, err)
	}
}

// A secret is made once and the same bytes are read back by every caller.
func TestSecretIsMadeOnce(t *testing.T) {
	t.Parallel()
	s := mysqltest.New(t)
	ctx := t.Context()
	a, err := s.Secret(ctx, "k", 32)
	if err != nil || len(a) != 32 {
		t.Fatalf("secret = %x, %v", a, err)
	}
	b, err := s.Secret(ctx, "k", 32)
	if err != nil || !bytes.Equal(a, b) {
		t.Errorf("second read = %x, want %x", b, a)
	}
	c, _ := s.Secret(ctx, "other", 32)
	if bytes.Equal(a, c) {
		t.Error("two secrets share their bytes")
	}
}
