package registry

import (
	"context"
	"errors"
	"time"
)

// Company is what a registry knows about one business.
type Company struct {
	TaxID      string    `json:"tax_id"`      // NIP, ten digits
	REGON      string    `json:"regon"`       // 9 digits (14 for a local unit)
	Name       string    `json:"name"`        // official name, as registered
	PKD        string    `json:"pkd"`         // main activity, "47.11.Z"
	PKDSection string    `json:"pkd_section"` // "G", derived from PKD
	Region     string    `json:"region"`      // voivodeship, "Mazowieckie"
	LegalForm  string    `json:"legal_form"`  // short label: "sp. z o.o.", "JDG", …
	Registered time.Time `json:"registered"`  // start of activity (UTC midnight)
	Status     Status    `json:"status"`
	FetchedAt  time.Time `json:"fetched_at"` // when the registry answered
}

// Status says whether a company still trades.
type Status string

// The statuses a registry reports.
const (
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
	StatusClosed    Status = "closed"
)

// AgeYears is how many whole years the company had been registered at now;
// 0 when the registration date is unknown or after now.
func (c *Company) AgeYears(now time.Time) int {
	if c.Registered.IsZero() || now.Before(c.Registered) {
		return 0
	}
	ry, rm, rd := c.Registered.Date()
	ny, nm, nd := now.In(c.Registered.Location()).Date()
	years := ny - ry
	if nm < rm || (nm == rm && nd < rd) {
		years--
	}
	return years
}

// Provider looks companies up in a registry.
type Provider interface {
	// Lookup finds the company with tax ID taxID (a NIP, in any form
	// ValidNIP accepts). Errors wrap one of the sentinels below when one
	// applies.
	Lookup(ctx context.Context, taxID string) (*Company, error)
}

// The errors a Provider's Lookup wraps; compare with errors.Is.
var (
	// ErrInvalidTaxID: the tax ID fails validation; nothing was sent.
	ErrInvalidTaxID = errors.New("registry: invalid tax ID")
	// ErrNotFound: the registry has no company with this tax ID.
	ErrNotFound = errors.New("registry: company not found")
	// ErrUnavailable: the registry is down, slow, refusing for load or
	// answering what cannot be read; worth trying again later.
	ErrUnavailable = errors.New("registry: unavailable")
	// ErrUnauthorized: the registry refused the API key.
	ErrUnauthorized = errors.New("registry: API key refused")
)
