package main

import (
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/keyhall/keyhall/web"
)

// maxSiteName is the longest site.name, in bytes: it is the authenticator
// app's entry, which apps cut, and the header's one line.
const maxSiteName = 64

// validateSite checks site.*: a printable name of one line, a logo file
// that is a safe PNG or SVG (web.CheckLogo), and a primary colour with
// enough contrast against white (web.CheckPrimaryColor).
func (c Config) validateSite(v *validator) {
	s := c.Site
	switch {
	case s.Name != "" && strings.TrimSpace(s.Name) != s.Name:
		v.add("site.name", "%q begins or ends with a space", s.Name)
	case strings.ContainsAny(s.Name, "\r\n\t"):
		v.add("site.name", "must be one line")
	case len(s.Name) > maxSiteName:
		v.add("site.name", "is %d bytes long; at most %d are allowed, as authenticator apps cut longer names", len(s.Name), maxSiteName)
	default:
		v.check("site.name", checkPrintable(s.Name))
	}
	if s.LogoFile != "" {
		_, err := readLogo(s.LogoFile)
		v.check("site.logo_file", err)
	}
	v.check("site.primary_color", web.CheckPrimaryColor(s.PrimaryColor))
}

// readLogo reads and checks the logo file; it reads at most one byte more
// than web.MaxLogoBytes.
func readLogo(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("cannot read the logo: %w", errors.Unwrap(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, web.MaxLogoBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the logo %s: %w", name, err)
	}
	if _, err := web.CheckLogo(b); err != nil {
		return nil, fmt.Errorf("%s %w", name, err)
	}
	return b, nil
}

// site is what the pages show of site.*, with the logo read.
func (c Config) site() (web.Site, error) {
	s := web.Site{Name: c.Site.Name, PrimaryColor: c.Site.PrimaryColor}
	if c.Site.LogoFile != "" {
		b, err := readLogo(c.Site.LogoFile)
		if err != nil {
			return web.Site{}, fmt.Errorf("site.logo_file: %w", err)
		}
		s.Logo = b
	}
	return s, nil
}

// mailFrom is mail.from, with site.name as the sender's name where
// mail.from gives none.
func (c Config) mailFrom() string {
	a, err := mail.ParseAddress(c.Mail.From)
	if err != nil || a.Name != "" || c.Site.Name == "" || !utf8.ValidString(c.Site.Name) {
		return c.Mail.From
	}
	a.Name = c.Site.Name
	return a.String()
}
