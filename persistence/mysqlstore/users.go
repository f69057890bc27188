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

const userColumns = "id, email, name, role, password_hash, address_label, lat, lng, created_at, token_version FROM users"

func scanUser(row interface{ Scan(...any) error }) (domain.User, error) {
	var u domain.User
	var label string
	var lat, lng sql.NullFloat64
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &label, &lat, &lng, &u.CreatedAt, &u.TokenVersion)
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

// userChanged answers domain.ErrNotFound when an UPDATE or DELETE of user
// id changed no row.
func userChanged(res sql.Result, id int64) error {
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("user %d: %w", id, domain.ErrNotFound)
	}
	return nil
}

// RevokeTokens bumps the user's token version, so that every token issued
// before is refused.
func (s *Store) RevokeTokens(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, "UPDATE users SET token_version = token_version + 1 WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("revoke tokens of user %d: %w", id, err)
	}
	return userChanged(res, id)
}

// SetPassword replaces the user's password hash and revokes its tokens;
// it answers the user as stored, with the new token version.
func (s *Store) SetPassword(ctx context.Context, id int64, hash string) (domain.User, error) {
	res, err := s.db.ExecContext(ctx,
		"UPDATE users SET password_hash = ?, token_version = token_version + 1 WHERE id = ?", hash, id)
	if err != nil {
		return domain.User{}, fmt.Errorf("set password of user %d: %w", id, err)
	}
	if err := userChanged(res, id); err != nil {
		return domain.User{}, err
	}
	return s.UserByID(ctx, id)
}

// SetRole gives the user role and revokes its tokens, which carry the old
// one; it answers the user as stored.
func (s *Store) SetRole(ctx context.Context, id int64, role domain.Role) (domain.User, error) {
	res, err := s.db.ExecContext(ctx,
		"UPDATE users SET role = ?, token_version = token_version + 1 WHERE id = ?", string(role), id)
	if err != nil {
		return domain.User{}, fmt.Errorf("set role of user %d: %w", id, err)
	}
	if err := userChanged(res, id); err != nil {
		return domain.User{}, err
	}
	return s.UserByID(ctx, id)
}

// DeleteUser removes the user's account; its tokens then name no one. The
// user's orders stay, for the books.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, "DELETE FROM users WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	return userChanged(res, id)
}
