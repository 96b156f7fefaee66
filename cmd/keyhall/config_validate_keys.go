package main

// previousKeySettings lists the keys a rotation replaces (keys.previous_*):
// optional, in key-file order.
func (c Config) previousKeySettings() []keySetting {
	return []keySetting{
		{"previous_cookie_key", c.Keys.PreviousCookieKey, c.Keys.PreviousCookieKeyFile, []int{32, 64}},
		{"previous_encryption_key", c.Keys.PreviousEncryptionKey, c.Keys.PreviousEncryptionKeyFile, []int{32}},
		{"previous_oidc_key", c.Keys.PreviousOIDCKey, c.Keys.PreviousOIDCKeyFile, []int{32}},
	}
}
