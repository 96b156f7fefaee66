package main

import (
	"reflect"
	"testing"
	"time"

	"github.com/keyhall/keyhall/enroll"
)

func TestEnrollPolicy(t *testing.T) {
	cfg := defaultConfig()
	cfg.Policy.Groups = map[string]GroupPolicy{
		"rat":   {Level: "phrh", UserVerification: true},
		"staff": {Level: "mfa", AllowTOTP: true, RefuseCompromisedModels: true},
		"web":   {Level: "phr", AllowTOTP: true},
	}
	p := enrollPolicy(cfg)
	rat, staff, web := p.Groups["rat"], p.Groups["staff"], p.Groups["web"]
	if !rat.RefuseSynced || !rat.RequireUV || rat.AllowTOTP || rat.NeedDE == "" {
		t.Errorf("rat: %+v", rat)
	}
	if staff.RefuseSynced || !staff.AllowTOTP || !staff.TOTPAlone || !staff.RefuseCompromised || rat.RefuseCompromised {
		t.Errorf("staff: %+v", staff)
	}
	if !web.AllowTOTP || web.TOTPAlone {
		t.Errorf("web (phr): an app alone must not do: %+v", web)
	}
	if !reflect.DeepEqual(p.Default, enroll.DefaultKeyPolicy()) {
		t.Errorf("default: %+v", p.Default)
	}
}

func TestParseValidityAndAddress(t *testing.T) {
	for s, want := range map[string]time.Duration{"14d": 14 * 24 * time.Hour, "36h": 36 * time.Hour, "90d": enroll.MaxValidity} {
		if got, err := parseValidity(s); err != nil || got != want {
			t.Errorf("parseValidity(%q) = %s, %v; want %s", s, got, err, want)
		}
	}
	for _, s := range []string{"", "0d", "-1d", "91d", "2w", "d"} {
		if _, err := parseValidity(s); err == nil {
			t.Errorf("parseValidity(%q) accepted", s)
		}
	}
	want := []string{"Große Straße 17", "48143 Münster"}
	for _, s := range []string{`Große Straße 17\n48143 Münster`, "Große Straße 17|48143 Münster", "Große Straße 17\r\n 48143 Münster \n"} {
		if got := addressLines(s); !reflect.DeepEqual(got, want) {
			t.Errorf("addressLines(%q) = %q", s, got)
		}
	}
}
