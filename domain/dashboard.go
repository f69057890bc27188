package domain

import "time"

// StockCell is the units of one category in one warehouse, split by lot
// state: regular stock and closing-soon deals.
type StockCell struct {
	WarehouseID int64  `json:"warehouse_id"`
	Category    string `json:"category"`
	Regular     int64  `json:"regular"`
	Deal        int64  `json:"deal"`
}

// DashboardSummary is what the admin dashboard shows at its top.
type DashboardSummary struct {
	At time.Time `json:"at"`
	// Stock is on-hand units of live lots by warehouse and category.
	Stock []StockCell `json:"stock"`
	// LotsExpiring48h and LotsExpiring6h count live lots with units left
	// that expire within 48 and 6 hours of At.
	LotsExpiring48h int64 `json:"lots_expiring_48h"`
	LotsExpiring6h  int64 `json:"lots_expiring_6h"`
	// WasteWeek is what was written off in the 7 days before At.
	WasteWeekQuantity int64 `json:"waste_week_quantity"`
	WasteWeekValue    KRW   `json:"waste_week_value"`
	// OrdersByStatus counts every order ever placed, by status.
	OrdersByStatus map[OrderStatus]int64 `json:"orders_by_status"`
	// StuckSagas counts sagas mid-way that have not moved since StuckBefore.
	StuckSagas  int64     `json:"stuck_sagas"`
	StuckBefore time.Time `json:"stuck_before"`
}

// MinuteSales is the units sold (in orders that were paid) in one minute.
type MinuteSales struct {
	Minute time.Time `json:"minute"`
	Units  int64     `json:"units"`
}
