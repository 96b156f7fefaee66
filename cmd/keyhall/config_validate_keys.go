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

// validatePreviousKeys checks keys.previous_*: a value or a file, not both,
// each a base64 key of the right length. Messages never quote a key.
func (c Config) validatePreviousKeys(v *validator) {
	for _, k := range c.previousKeySettings() {
		path := "keys." + k.name
		switch {
		case k.value != "" && k.file != "":
			v.add(path+"_file", "is set, but %s is set too; give one", path)
		case k.value != "":
			if _, err := decodeKey(k.value, k.sizes); err != nil {
				v.add(path, "%s", err.Error())
			}
		case k.file != "":
			s, err := readSecretFile(k.file)
			if err == nil {
				_, err = decodeKey(s, k.sizes)
			}
			if err != nil {
				v.add(path+"_file", "%s: %s", k.file, err.Error())
			}
		}
	}
}
