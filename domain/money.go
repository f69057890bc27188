package domain

import "errors"

// KRW is an amount of Korean won. The won has no minor unit in use, so money
// is always a whole number.
type KRW int64

// MaxPrice is the highest catalog price: 100,000,000 KRW. With at most 99
// units a line and 30 lines an order, no total can overflow.
const MaxPrice KRW = 100_000_000

var (
	// ErrNegativePrice reports a price below zero.
	ErrNegativePrice = errors.New("price must not be negative")
	// ErrPriceTooHigh reports a price above MaxPrice.
	ErrPriceTooHigh = errors.New("price must be at most 100,000,000 KRW")
	// ErrAmountTooLarge reports an order total past what can be charged.
	ErrAmountTooLarge = errors.New("the order's total is larger than can be charged")
)

// ValidatePrice checks a catalog price.
func ValidatePrice(p KRW) error {
	if p < 0 {
		return ErrNegativePrice
	}
	if p > MaxPrice {
		return ErrPriceTooHigh
	}
	return nil
}

// maxTotal bounds an order's total far below overflow.
const maxTotal = KRW(1) << 53

// AddLine adds quantity units at price to total, refusing prices outside
// the catalog's bounds and totals that would overflow.
func AddLine(total, price KRW, quantity int64) (KRW, error) {
	if err := ValidatePrice(price); err != nil {
		return total, err
	}
	if quantity < 0 || quantity > int64(maxTotal/(price+1)) {
		return total, ErrAmountTooLarge
	}
	line := price * KRW(quantity)
	if total < 0 || line > maxTotal-total {
		return total, ErrAmountTooLarge
	}
	return total + line, nil
}

// Discounted returns price less percent, rounded down to 10 won as shops in
// Korea price markdowns. A percent outside [0, 100] is clamped.
func Discounted(price KRW, percent int) KRW {
	if percent <= 0 {
		return price
	}
	if percent >= 100 {
		return 0
	}
	p := price * KRW(100-percent) / 100
	return p - p%10
}
