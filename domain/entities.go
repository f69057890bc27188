package domain

import (
	"errors"
	"time"
)

// Role is what a signed-in user may do.
type Role string

const (
	RoleShopper Role = "shopper"
	RoleAdmin   Role = "admin"
)

// Address is where a shopper wants delivery.
type Address struct {
	Label string `json:"label"`
	Point
}

// User is a shopper or an admin.
type User struct {
	ID           int64
	Email        string
	Name         string
	Role         Role
	PasswordHash string
	Address      *Address
	CreatedAt    time.Time
	// TokenVersion is carried in the user's tokens; bumping it revokes them.
	TokenVersion int64
}

// Warehouse holds lots and delivers within its service area.
type Warehouse struct {
	ID       int64   `json:"id"`
	Name     string  `json:"name"`
	Region   string  `json:"region"`
	Lat      float64 `json:"lat"`
	Lng      float64 `json:"lng"`
	RadiusKm float64 `json:"radius_km"`
}

// Area is the warehouse's service area.
func (w Warehouse) Area() ServiceArea {
	return ServiceArea{Center: Point{w.Lat, w.Lng}, RadiusKm: w.RadiusKm}
}

// Product is a catalog entry. MinShelfLife is the freshness guarantee: a lot
// with less time left than that is not sold as regular stock.
type Product struct {
	ID           int64         `json:"id"`
	SKU          string        `json:"sku"`
	Name         string        `json:"name"`
	NameEn       string        `json:"name_en"`
	Category     string        `json:"category"`
	Price        KRW           `json:"price"`
	MinShelfLife time.Duration `json:"-"`
}

// Lot is a quantity of one product in one warehouse with one expiry.
type Lot struct {
	ID          int64
	ProductID   int64
	WarehouseID int64
	ExpiresAt   time.Time
	Received    int64
	// OnHand is the units free to sell; Held the units on hold for orders
	// waiting for their payment. received = on_hand + held + deducted -
	// restored + written_off.
	OnHand     int64
	Held       int64
	Deducted   int64
	Restored   int64
	WrittenOff int64
	State      LotState
	// Version moves on each time a grain claims the lot (its epoch); Seq
	// counts the lot's commits.
	Version int64
	Seq     int64
}

// Errors shared by stores and handlers.
var (
	ErrNotFound      = errors.New("not found")
	ErrDuplicateSKU  = errors.New("a product with this sku exists")
	ErrDuplicateName = errors.New("a warehouse with this name exists")
	ErrEmailTaken    = errors.New("this email is registered")
	// ErrRoleConflict: an account exists with the email but another role.
	ErrRoleConflict     = errors.New("the account exists with another role")
	ErrUnknownProduct   = errors.New("unknown product")
	ErrUnknownWarehouse = errors.New("unknown warehouse")
)

// LotFilter selects lots for the admin listing.
type LotFilter struct {
	WarehouseID    int64
	ProductID      int64
	ExpiringBefore time.Time // zero: any
	State          LotState
	Limit          int
}

// WasteRow is the written-off quantity and value of one warehouse on one
// day, next to what its closing-soon (marked-down) sales brought in that
// day: what the markdowns saved from the bin.
type WasteRow struct {
	Day         string `json:"day"`
	WarehouseID int64  `json:"warehouse_id"`
	Warehouse   string `json:"warehouse"`
	Region      string `json:"region"`
	Quantity    int64  `json:"quantity"`
	Value       KRW    `json:"value"`
	// DealQuantity and DealRevenue are the units sold at a markdown and
	// what was paid for them (the snapshotted unit prices).
	DealQuantity int64 `json:"deal_quantity"`
	DealRevenue  KRW   `json:"deal_revenue"`
}
