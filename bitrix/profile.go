package bitrix

import "context"

// RateProfile returns the request budget the client keeps to for a portal,
// for callers that plan around it (a backfill's time estimate).
func (c *Client) RateProfile(ctx context.Context, memberID string) (Profile, error) {
	return c.profile(ctx, memberID)
}
