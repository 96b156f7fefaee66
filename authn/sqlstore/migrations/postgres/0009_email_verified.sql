-- Additive.

-- The subject of an authorization request's id_token_hint ('' for none).
ALTER TABLE oidc_auth_requests ADD COLUMN hint_subject TEXT NOT NULL DEFAULT '';
