package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"shelflife/domain"
)

// idByName returns the id of the row named name in table (regions or
// categories), inserting it when missing.
func idByName(ctx context.Context, tx *sql.Tx, table, name string) (int64, error) {
	if _, err := tx.ExecContext(ctx, "INSERT IGNORE INTO "+table+" (name) VALUES (?)", name); err != nil {
		return 0, err
	}
	var id int64
	err := tx.QueryRowContext(ctx, "SELECT id FROM "+table+" WHERE name = ?", name).Scan(&id)
	return id, err
}

// CreateWarehouse stores w; the region is created when new.
func (s *Store) CreateWarehouse(ctx context.Context, w domain.Warehouse) (domain.Warehouse, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		regionID, err := idByName(ctx, tx, "regions", w.Region)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx,
			"INSERT INTO warehouses (name, region_id, lat, lng, radius_km) VALUES (?, ?, ?, ?, ?)",
			w.Name, regionID, w.Lat, w.Lng, w.RadiusKm)
		if err != nil {
			if isMySQLError(err, errDuplicate) {
				return domain.ErrDuplicateName
			}
			return err
		}
		w.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return domain.Warehouse{}, fmt.Errorf("create warehouse %q: %w", w.Name, err)
	}
	return w, nil
}

const warehouseColumns = "w.id, w.name, r.name, w.lat, w.lng, w.radius_km FROM warehouses w JOIN regions r ON r.id = w.region_id"

// Warehouses lists every warehouse.
func (s *Store) Warehouses(ctx context.Context) ([]domain.Warehouse, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+warehouseColumns+" ORDER BY w.id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []domain.Warehouse
	for rows.Next() {
		var w domain.Warehouse
		if err := rows.Scan(&w.ID, &w.Name, &w.Region, &w.Lat, &w.Lng, &w.RadiusKm); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// Warehouse reads one warehouse.
func (s *Store) Warehouse(ctx context.Context, id int64) (domain.Warehouse, error) {
	var w domain.Warehouse
	err := s.db.QueryRowContext(ctx, "SELECT "+warehouseColumns+" WHERE w.id = ?", id).
		Scan(&w.ID, &w.Name, &w.Region, &w.Lat, &w.Lng, &w.RadiusKm)
	if errors.Is(err, sql.ErrNoRows) {
		return w, fmt.Errorf("warehouse %d: %w", id, domain.ErrUnknownWarehouse)
	}
	return w, err
}

// CreateProduct stores p; the category is created when new.
func (s *Store) CreateProduct(ctx context.Context, p domain.Product) (domain.Product, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		catID, err := idByName(ctx, tx, "categories", p.Category)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx,
			"INSERT INTO products (sku, name, name_en, category_id, price, min_shelf_life_hours) VALUES (?, ?, ?, ?, ?, ?)",
			p.SKU, p.Name, p.NameEn, catID, int64(p.Price), int64(p.MinShelfLife/time.Hour))
		if err != nil {
			if isMySQLError(err, errDuplicate) {
				return domain.ErrDuplicateSKU
			}
			return err
		}
		p.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return domain.Product{}, fmt.Errorf("create product %q: %w", p.SKU, err)
	}
	return p, nil
}

const productColumns = "p.id, p.sku, p.name, p.name_en, c.name, p.price, p.min_shelf_life_hours FROM products p JOIN categories c ON c.id = p.category_id"

func scanProduct(row interface{ Scan(...any) error }) (domain.Product, error) {
	var p domain.Product
	var hours int64
	err := row.Scan(&p.ID, &p.SKU, &p.Name, &p.NameEn, &p.Category, &p.Price, &hours)
	p.MinShelfLife = time.Duration(hours) * time.Hour
	return p, err
}

// Products lists the catalog.
func (s *Store) Products(ctx context.Context) ([]domain.Product, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+productColumns+" ORDER BY p.id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []domain.Product
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Product reads one product.
func (s *Store) Product(ctx context.Context, id int64) (domain.Product, error) {
	p, err := scanProduct(s.db.QueryRowContext(ctx, "SELECT "+productColumns+" WHERE p.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("product %d: %w", id, domain.ErrUnknownProduct)
	}
	return p, err
}
