package kakaopay

import (
	"bytes"
	"fmt"
	"time"
)

// KST is Korea Standard Time. Kakao Pay writes its times in it without a
// zone ("2016-11-15T21:18:22"). A fixed offset, not a zone database entry:
// Korea has no daylight saving, and the distroless image has no tzdata.
var KST = time.FixedZone("KST", 9*60*60)

// localLayout is Kakao Pay's documented time format.
const localLayout = "2006-01-02T15:04:05"

// Time is a time as Kakao Pay writes it: local Korean time without a zone,
// or null where the event has not happened (approved_at of a payment not
// yet approved). RFC 3339 with an offset is read too.
type Time struct{ time.Time }

// UnmarshalJSON reads a zone-less time as KST, an RFC 3339 time as given,
// and null or "" as the zero time.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		t.Time = time.Time{}
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("kakaopay: time %s is not a string", b)
	}
	s := string(b[1 : len(b)-1])
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	if v, err := time.Parse(time.RFC3339Nano, s); err == nil {
		t.Time = v
		return nil
	}
	// Fractions of a second are accepted after the seconds, though the
	// documentation shows none.
	v, err := time.ParseInLocation(localLayout+".999999999", s, KST)
	if err != nil {
		return fmt.Errorf("kakaopay: time %q: want %s in Korean time or RFC 3339", s, localLayout)
	}
	t.Time = v
	return nil
}

// MarshalJSON writes the time as Kakao Pay does: KST without a zone, or
// null for the zero time.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.In(KST).Format(localLayout) + `"`), nil
}
