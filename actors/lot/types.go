// Package lot is the lot grain: one virtual actor per lot (identity: the lot
// id) that owns the lot's on-hand quantity and its per-order ledger. Every
// deduction and restore of a lot goes through it, one message at a time, so
// a lot never goes negative; it answers only after the change is committed
// in MySQL, committing the requests that queue meanwhile together (group
// commit); it moves itself to closing-soon and expired by timers.
package lot

import (
	"context"
	"errors"
	"time"

	"shelflife/domain"
)

// Kinds of ledger entry.
const (
	Deducted  = "DEDUCTED"
	Restored  = "RESTORED"
	Tombstone = "TOMBSTONE"
	// Held is a hold waiting for its Commit; Released a hold given back by
	// a Release; Lapsed a hold whose deadline passed or whose lot expired.
	Held     = "HELD"
	Released = "RELEASED"
	Lapsed   = "LAPSED"
)

// State is the lot as stored (its Version is the epoch this activation
// claimed: every write requires the row still to carry it), plus what the
// grain needs of its product.
type State struct {
	domain.Lot
	Price        domain.KRW
	MinShelfLife time.Duration
	// LedgerFrom is where the loaded ledger starts: ClaimLot loaded every
	// row changed at or after it and every live hold, and older rows are
	// read one by one when a repeat asks for them. Zero: the whole ledger
	// was loaded (the lot is younger than the window). ClaimLot gives it in
	// MySQL's time; the grain moves it to its own clock, which dates keys.
	LedgerFrom time.Time
	Pricing
}

// Pricing is what the lot keeps of its own selling: its sell rate in
// list-price units an hour (domain.ListEquivalent), the adaptive markdown
// in force (0 under the ladder) and when it is next evaluated (zero when
// none is due).
type Pricing struct {
	SellRate        domain.SellRate
	MarkdownPercent int
	MarkdownDueAt   time.Time
}

// LedgerEntry is what one idempotency key did to the lot.
type LedgerEntry struct {
	Key             string
	Kind            string
	Quantity        int64
	UnitPrice       domain.KRW
	DiscountPercent int
	// HoldUntil is a hold's deadline (zero for other kinds).
	HoldUntil time.Time
}

// Waste is a write-off to record with a commit.
type Waste struct {
	Quantity int64
	UnitCost domain.KRW
	Kind     string // EXPIRY or RETURN
	At       time.Time
}

// Commit is one group commit: the lot's counters after it, and the ledger
// rows and write-offs it adds or changes. A lot has one commit in flight at
// a time; each carries the seq of the one before it (PrevSeq), which the
// lot row must still hold.
type Commit struct {
	LotID      int64
	Epoch      int64
	Seq        int64
	PrevSeq    int64
	OnHand     int64
	Held       int64
	Deducted   int64
	Restored   int64
	WrittenOff int64
	State      domain.LotState
	Pricing    Pricing
	Entries    []LedgerEntry
	Waste      []Waste
	// For the waste rows.
	ProductID   int64
	WarehouseID int64
	batch       uint64
}

// Store is what the grain needs of MySQL.
type Store interface {
	// ClaimLot loads the lot and the part of its ledger idempotency needs
	// at once (live holds, and rows changed within window before MySQL's
	// clock), and takes ownership by moving its version on; the returned
	// State's Version is the new epoch and its LedgerFrom (MySQL's time)
	// says what was left out. The claim may become durable after ClaimLot
	// returns; CommitLot of the new epoch waits for it, and refuses the
	// epoch (ErrStaleOwner) if it did not.
	ClaimLot(ctx context.Context, id int64, window time.Duration) (State, []LedgerEntry, error)
	// LedgerEntry reads what key did to the lot, if anything: the answer to
	// a repeat of a request older than the loaded ledger.
	LedgerEntry(ctx context.Context, lotID int64, key string) (LedgerEntry, bool, error)
	// CommitLot writes c in one transaction if the lot still carries
	// c.Epoch and c.PrevSeq, else ErrStaleOwner.
	CommitLot(ctx context.Context, c Commit) error
}

// ProductRates gives a lot with no sales of its own a rate to start from:
// the product's rate, in list-price units an hour, in an average warehouse
// (the lots' persisted rates, decayed to now with halfLife, summed per
// warehouse and averaged over the warehouses that sold it). Optional.
type ProductRates interface {
	ProductSellRate(ctx context.Context, productID int64, now time.Time, halfLife time.Duration) (float64, error)
}

// Sibling is a lot of the same product in the same warehouse, as its row
// says: what joint adaptive markdown needs of it.
type Sibling struct {
	ID              int64
	ExpiresAt       time.Time
	OnHand          int64
	MarkdownPercent int
	MarkdownDueAt   time.Time
	SellRate        domain.SellRate
}

// Siblings reads the lots that share a lot's shoppers: every lot of the
// product in the warehouse that has not expired at now, and those that
// expired within the last ten half-lives (their rates still count toward
// the product's), expiry first, at most MaxSiblings of them. Optional.
type Siblings interface {
	LotSiblings(ctx context.Context, productID, warehouseID int64, now time.Time, halfLife time.Duration) ([]Sibling, error)
}

// MaxSiblings bounds what one evaluation reads of a lot's siblings.
const MaxSiblings = 200

// Publisher receives events after their commit. It must not block.
type Publisher interface {
	LotChanged(domain.LotEvent)
}

var (
	// ErrNotFound is a lot id with no row.
	ErrNotFound = errors.New("lot not found")
	// ErrStaleOwner means another activation has claimed the lot.
	ErrStaleOwner = errors.New("lot is owned by another activation")
)
