// Package callbacksig signs the payment callbacks Kakao Pay sends payers
// back to. The nonce in each callback URL is an HMAC of the order id under
// a key of the shop's, so a callback is checked in memory: a forged one is
// refused before it costs a grain activation or a query.
package callbacksig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

// KeySize is the length of a signing key in bytes.
const KeySize = 32

// nonceBytes of the HMAC are kept: 128 bits cannot be guessed.
const nonceBytes = 16

// Signer makes and checks callback nonces.
type Signer struct{ key []byte }

// New makes a signer; key must be KeySize bytes or more, shared by every
// node of a shop and kept across restarts (MySQL keeps it).
func New(key []byte) (*Signer, error) {
	if len(key) < KeySize {
		return nil, errors.New("callbacksig: key shorter than 32 bytes")
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// Nonce is the nonce of orderID's callback URLs.
func (s *Signer) Nonce(orderID string) string {
	return hex.EncodeToString(s.mac(orderID))
}

// Valid reports whether nonce belongs to orderID, in constant time.
func (s *Signer) Valid(orderID, nonce string) bool {
	got, err := hex.DecodeString(nonce)
	if err != nil || len(got) != nonceBytes {
		return false
	}
	return hmac.Equal(got, s.mac(orderID))
}

func (s *Signer) mac(orderID string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("shelflife payment callback\x00"))
	m.Write([]byte(orderID))
	return m.Sum(nil)[:nonceBytes]
}
