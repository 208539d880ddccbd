package app

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"segmentor/bitrix"
)

// RESTUsage counts the REST requests the app sends to each portal, per
// minute, shared by every process: what the dashboard shows of the
// portal's request budget. A minute's counters live two hours.
type RESTUsage struct {
	rdb   redis.UniversalClient
	clock func() time.Time
}

// NewRESTUsage returns the counters over rdb; clock defaults to time.Now.
func NewRESTUsage(rdb redis.UniversalClient, clock func() time.Time) *RESTUsage {
	if clock == nil {
		clock = time.Now
	}
	return &RESTUsage{rdb: rdb, clock: clock}
}

func (u *RESTUsage) key(memberID string, minute int64) string {
	return portalKey(memberID, "rest:"+strconv.FormatInt(minute, 10))
}

// Observe is the bitrix client's OnRequest hook: every request a portal
// answered counts, refused ones (QUERY_LIMIT_EXCEEDED) also as limited.
// Calls to the OAuth server and requests that got no answer do not count.
func (u *RESTUsage) Observe(ctx context.Context, info bitrix.RequestInfo) {
	if info.MemberID == "" || info.Status == 0 || info.Method == "oauth.token" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	key := u.key(info.MemberID, u.clock().Unix()/60)
	_, _ = u.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HIncrBy(ctx, key, "n", 1)
		if info.ErrorCode == bitrix.CodeQueryLimitExceeded {
			p.HIncrBy(ctx, key, "limited", 1)
		}
		p.Expire(ctx, key, 2*time.Hour)
		return nil
	})
}

// RESTHour is a portal's REST use over the last 60 minutes.
type RESTHour struct {
	Requests int // requests the portal answered
	Limited  int // of which refused with QUERY_LIMIT_EXCEEDED
}

// LastHour sums the current minute and the 59 before it.
func (u *RESTUsage) LastHour(ctx context.Context, memberID string) (RESTHour, error) {
	now := u.clock().Unix() / 60
	cmds := make([]*redis.SliceCmd, 60)
	_, err := u.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range cmds {
			cmds[i] = p.HMGet(ctx, u.key(memberID, now-int64(i)), "n", "limited")
		}
		return nil
	})
	var h RESTHour
	if err != nil {
		return h, err
	}
	for _, c := range cmds {
		v := c.Val()
		h.Requests += atoi(v[0])
		h.Limited += atoi(v[1])
	}
	return h, nil
}

func atoi(v any) int {
	s, _ := v.(string)
	n, _ := strconv.Atoi(s)
	return n
}
