package web

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/keyhall/keyhall/authn"
)

// The device cookie (OWASP, "Slow Down Online Guessing Attacks with Device
// Cookies"): each completed sign-in hands the browser a cookie naming the
// person, a random device id and the time, sealed with XChaCha20-Poly1305 under a
// key derived from keys.encryption_key. With it, the browser's wrong app
// and recovery codes count under that device's own counters, not the
// account's (authn.DeviceMark): a stranger who knows her username and
// types wrong codes locks out strangers, not her own browsers.

// DeviceCookie is the device cookie's name.
const DeviceCookie = "__Host-keyhall-device"

// deviceMaxAge is how long a browser keeps its device cookie; each sign-in
// renews it. The sealed cookie holds the time it was sealed, and the
// server refuses it once it is older (a browser that kept it longer, or a
// copy of it).
const deviceMaxAge = 400 * 24 * time.Hour

// deviceCookieAAD binds a sealed device cookie to its purpose.
var deviceCookieAAD = []byte("keyhall device cookie v1")

// maxDeviceCookie caps what is opened: a user id, a device id and the seal.
const maxDeviceCookie = 512

// deviceMark opens the request's device cookie; the zero mark when there
// is none or it is not one this installation sealed.
func (s *Server) deviceMark(r *http.Request) authn.DeviceMark {
	c, err := r.Cookie(DeviceCookie)
	if err != nil || len(c.Value) > maxDeviceCookie {
		return authn.DeviceMark{}
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(raw) < chacha20poly1305.NonceSizeX {
		return authn.DeviceMark{}
	}
	nonce, sealed := raw[:chacha20poly1305.NonceSizeX], raw[chacha20poly1305.NonceSizeX:]
	for _, a := range []cipher.AEAD{s.deviceAEAD, s.deviceAEADPrev} {
		if a == nil {
			continue
		}
		if plain, err := a.Open(nil, nonce, sealed, deviceCookieAAD); err == nil {
			// user id, device id, time sealed (Unix seconds); a cookie of
			// the first form, without the time, is refused.
			f := strings.Split(string(plain), "\x00")
			if len(f) != 3 || f[0] == "" || f[1] == "" {
				return authn.DeviceMark{}
			}
			sec, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil || s.now().Sub(time.Unix(sec, 0)) > deviceMaxAge {
				return authn.DeviceMark{}
			}
			return authn.DeviceMark{UserID: f[0], ID: f[1]}
		}
	}
	return authn.DeviceMark{}
}

// setDeviceCookie hands the browser that just signed in as userID its
// device cookie: the same device id as before when it had one for her, so
// its counters stay its own, else a new random one.
func (s *Server) setDeviceCookie(w http.ResponseWriter, r *http.Request, userID string) {
	if s.deviceAEAD == nil || userID == "" {
		return
	}
	id := ""
	if m := s.deviceMark(r); m.UserID == userID {
		id = m.ID
	} else {
		var b [16]byte
		rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
		id = hex.EncodeToString(b[:])
	}
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	rand.Read(nonce)
	v := s.deviceAEAD.Seal(nonce, nonce, []byte(userID+"\x00"+id+"\x00"+strconv.FormatInt(s.now().Unix(), 10)), deviceCookieAAD)
	http.SetCookie(w, hostCookie(DeviceCookie, base64.RawURLEncoding.EncodeToString(v), int(deviceMaxAge/time.Second)))
}
