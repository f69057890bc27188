package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"shelflife/domain"
)

// CreateUser stores u. A taken email is domain.ErrEmailTaken.
func (s *Store) CreateUser(ctx context.Context, u domain.User) (domain.User, error) {
	var label string
	var lat, lng sql.NullFloat64
	if u.Address != nil {
		label = u.Address.Label
		lat = sql.NullFloat64{Float64: u.Address.Lat, Valid: true}
		lng = sql.NullFloat64{Float64: u.Address.Lng, Valid: true}
	}
	res, err := s.db.ExecContext(ctx,
		"INSERT INTO users (email, password_hash, name, role, address_label, lat, lng) VALUES (?, ?, ?, ?, ?, ?, ?)",
		u.Email, u.PasswordHash, u.Name, string(u.Role), label, lat, lng)
	if err != nil {
		if isMySQLError(err, errDuplicate) {
			return domain.User{}, domain.ErrEmailTaken
		}
		return domain.User{}, fmt.Errorf("create user: %w", err)
	}
	u.ID, err = res.LastInsertId()
	return u, err
}

// EnsureUser creates u unless its email exists. An existing user is left
// as it is, password included, when it has u's role; one with another role
// is domain.ErrRoleConflict: an account somebody else signed up with is
// never promoted (it would make them admin with their own password).
func (s *Store) EnsureUser(ctx context.Context, u domain.User) (domain.User, error) {
	created, err := s.CreateUser(ctx, u)
	if err == nil {
		return created, nil
	}
	if !errors.Is(err, domain.ErrEmailTaken) {
		return domain.User{}, err
	}
	existing, err := s.UserByEmail(ctx, u.Email)
	if err != nil {
		return domain.User{}, err
	}
	if existing.Role != u.Role {
		return existing, fmt.Errorf("%s is a %s account: %w", u.Email, existing.Role, domain.ErrRoleConflict)
	}
	return existing, nil
}

const userColumns = "id, email, name, role, password_hash, address_label, lat, lng, created_at FROM users"

func scanUser(row interface{ Scan(...any) error }) (domain.User, error) {
	var u domain.User
	var label string
	var lat, lng sql.NullFloat64
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &label, &lat, &lng, &u.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return u, domain.ErrNotFound
	}
	if lat.Valid && lng.Valid {
		u.Address = &domain.Address{Label: label, Point: domain.Point{Lat: lat.Float64, Lng: lng.Float64}}
	}
	return u, err
}

// UserByEmail reads a user by email.
func (s *Store) UserByEmail(ctx context.Context, email string) (domain.User, error) {
	return scanUser(s.db.QueryRowContext(ctx, "SELECT "+userColumns+" WHERE email = ?", email))
}

// UserByID reads a user by id.
func (s *Store) UserByID(ctx context.Context, id int64) (domain.User, error) {
	return scanUser(s.db.QueryRowContext(ctx, "SELECT "+userColumns+" WHERE id = ?", id))
}

// SetAddress replaces a user's delivery address.
func (s *Store) SetAddress(ctx context.Context, userID int64, a domain.Address) error {
	res, err := s.db.ExecContext(ctx, "UPDATE users SET address_label = ?, lat = ?, lng = ? WHERE id = ?",
		a.Label, a.Lat, a.Lng, userID)
	if err != nil {
		return fmt.Errorf("set address of user %d: %w", userID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// MySQL reports 0 when the values did not change; tell the two apart.
		if _, err := s.UserByID(ctx, userID); err != nil {
			return err
		}
	}
	return nil
}
