package authn

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// commonPasswordsGz is a list of common and breached passwords of at least 8
// characters, NFKC-normalised, case-folded, sorted, one per line. It comes
// from src/passwords.json of the npm package @zxcvbn-ts/language-common
// 4.1.3 (MIT licence, Copyright (c) 2012-2016 Dan Wheeler and Dropbox, Inc.,
// Copyright (c) 2021 @zxcvbn-ts); see LICENSE-thirdparty beside this file.
//
//go:embed common-passwords.txt.gz
var commonPasswordsGz []byte

// Password length limits for local passwords (NIST SP 800-63B-4 §3.1.1.2):
// at least MinPasswordLength characters, and any length up to
// MaxPasswordBytes bytes of UTF-8 (that is 64 characters and far more).
const (
	MinPasswordLength = 12
	MaxPasswordBytes  = 1024
)

// Errors CheckNewPassword reports; match them with errors.Is.
var (
	ErrPasswordTooShort = errors.New("the password is too short")
	ErrPasswordTooLong  = errors.New("the password is too long")
	ErrPasswordCommon   = errors.New("the password is on a list of common or breached passwords")
)

// commonPasswords returns the sorted list, decompressed on first use.
var commonPasswords = sync.OnceValue(func() []string {
	zr, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
	if err != nil {
		panic(fmt.Sprintf("authn: embedded password list is damaged: %v", err))
	}
	var list []string
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			list = append(list, line)
		}
	}
	if err := sc.Err(); err != nil {
		panic(fmt.Sprintf("authn: embedded password list is damaged: %v", err))
	}
	slices.Sort(list)
	return list
})

// NormalizePassword returns the form of a password that is hashed and
// compared: Unicode NFKC, so that the same characters typed on different
// keyboards give the same password (NIST SP 800-63B §5.1.1.2).
func NormalizePassword(pw string) string { return norm.NFKC.String(pw) }

// CheckNewPassword checks a local password a person wants to set: at least
// MinPasswordLength characters, at most 1024 bytes, valid UTF-8, any
// characters and no composition rules, and not on the bundled list of
// common and breached passwords (compared case-insensitively), as NIST SP
// 800-63B-4 asks of a password that is one factor of two.
func CheckNewPassword(pw string) error {
	if !utf8.ValidString(pw) {
		return fmt.Errorf("check password: it is not valid UTF-8")
	}
	n := NormalizePassword(pw)
	if len(n) > MaxPasswordBytes || len(pw) > MaxPasswordBytes {
		return fmt.Errorf("check password: %w (at most %d bytes)", ErrPasswordTooLong, MaxPasswordBytes)
	}
	if c := utf8.RuneCountInString(n); c < MinPasswordLength {
		return fmt.Errorf("check password: %w (%d characters, at least %d)", ErrPasswordTooShort, c, MinPasswordLength)
	}
	folded := norm.NFKC.String(cases.Fold().String(n))
	if _, found := slices.BinarySearch(commonPasswords(), folded); found {
		return fmt.Errorf("check password: %w", ErrPasswordCommon)
	}
	if t := strings.TrimSpace(folded); t != folded {
		if _, found := slices.BinarySearch(commonPasswords(), t); found {
			return fmt.Errorf("check password: %w", ErrPasswordCommon)
		}
	}
	return nil
}
