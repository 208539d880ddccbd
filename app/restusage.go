package app

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"segmentor/bitrix"
)

// RESTUsage counts the REST requests the app sends to each portal, per
// minute, and keeps the operating time Bitrix24 last reported for each
// method, shared by every process: what the dashboard shows of the
// portal's limits. A minute's counters live two hours.
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

// OperatingWindow is the stretch Bitrix24 sums a method's operating time
// over (protocol §4): a report older than that says nothing of now.
const OperatingWindow = 10 * time.Minute

func (u *RESTUsage) opsKey(memberID string) string { return portalKey(memberID, "rest:operating") }

// ObserveOperating is the bitrix client's OnOperating hook: it keeps the
// latest figure of each method, which is the sum of the window before it.
// A zero (an answer without the figure, off the cloud) is not written: it
// would cost a Redis round trip per request and show nothing.
func (u *RESTUsage) ObserveOperating(ctx context.Context, memberID, method string, seconds float64) {
	if memberID == "" || method == "" || !(seconds > 0) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	key := u.opsKey(memberID)
	v := strconv.FormatFloat(seconds, 'f', 3, 64) + ";" + strconv.FormatInt(u.clock().UnixMilli(), 10)
	_, _ = u.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, strings.ToLower(method), v)
		p.Expire(ctx, key, OperatingWindow+time.Minute)
		return nil
	})
}

// MethodOperating is a method's operating time over the last window, as
// Bitrix24 last reported it.
type MethodOperating struct {
	Method  string
	Seconds float64
	At      time.Time // when it was reported
}

// Operating lists the methods reported within the last OperatingWindow,
// longest first (then by name). Each call of a method answers with a new
// figure, so the last one is what the window holds now at most: since it,
// minutes have only left the window.
func (u *RESTUsage) Operating(ctx context.Context, memberID string) ([]MethodOperating, error) {
	vals, err := u.rdb.HGetAll(ctx, u.opsKey(memberID)).Result()
	if err != nil {
		return nil, err
	}
	since := u.clock().Add(-OperatingWindow)
	out := []MethodOperating{}
	for m, v := range vals {
		a, b, _ := strings.Cut(v, ";")
		sec, err1 := strconv.ParseFloat(a, 64)
		ms, err2 := strconv.ParseInt(b, 10, 64)
		if err1 != nil || err2 != nil || !time.UnixMilli(ms).After(since) {
			continue
		}
		out = append(out, MethodOperating{Method: m, Seconds: sec, At: time.UnixMilli(ms)})
	}
	slices.SortFunc(out, func(x, y MethodOperating) int {
		return cmp.Or(cmp.Compare(y.Seconds, x.Seconds), cmp.Compare(x.Method, y.Method))
	})
	return out, nil
}
