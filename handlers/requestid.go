package handlers

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/gin-gonic/gin"
)

// requestIDHeader carries a request's id in and out: a proxy's id is kept,
// otherwise one is made; the answer always names it.
const requestIDHeader = "X-Request-Id"

// requestID returns the id a proxy sent when it is a plain token of at most
// 64 characters, or a new one.
func requestID(c *gin.Context) string {
	if id := c.GetHeader(requestIDHeader); len(id) > 0 && len(id) <= 64 && plainToken(id) {
		return id
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func plainToken(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
