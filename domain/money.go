package domain

import "errors"

// KRW is an amount of Korean won. The won has no minor unit in use, so money
// is always a whole number.
type KRW int64

// ErrNegativePrice reports a price below zero.
var ErrNegativePrice = errors.New("price must not be negative")

// ValidatePrice checks a catalog price.
func ValidatePrice(p KRW) error {
	if p < 0 {
		return ErrNegativePrice
	}
	return nil
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
