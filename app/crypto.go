package app

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Sealer encrypts secrets at rest (AES-256-GCM). The additional data binds
// a ciphertext to its portal, so one portal's sealed token cannot be
// swapped into another's record.
type Sealer struct{ aead cipher.AEAD }

// NewSealer derives the encryption key from the app's 32-byte secret key.
func NewSealer(secretKey []byte) (*Sealer, error) {
	if len(secretKey) != 32 {
		return nil, fmt.Errorf("secret key must be 32 bytes, got %d", len(secretKey))
	}
	block, err := aes.NewCipher(deriveKey(secretKey, "segmentor token encryption v1"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// deriveKey gives each use of the secret key its own key (HMAC-SHA256).
func deriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// Seal encrypts plain, bound to context (e.g. the member_id).
func (s *Sealer) Seal(plain []byte, context string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plain, []byte(context)), nil
}

// Open decrypts what Seal produced for the same context.
func (s *Sealer) Open(sealed []byte, context string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed value is too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(context))
	if err != nil {
		return nil, errors.New("sealed value does not open with this key (APP_SECRET_KEY changed?) or was tampered with")
	}
	return plain, nil
}
