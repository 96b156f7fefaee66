-- Sessions, OIDC requests and tokens made before schema 8 by a key that
-- is not attested (0008: none is) carry amr hwk and acr phrh, which the key
-- no longer reaches: they get what a sign-in with that key gives now
-- (amr pop, acr phr), so forward-auth rules and tools that ask for phrh,
-- and refresh tokens that carry the sign-in on, do not keep it.
UPDATE sessions SET acr = 'phr' WHERE acr = 'phrh';
UPDATE sessions SET amr = TRIM(REPLACE(' ' || amr || ' ', ' hwk ', ' pop ')) WHERE ' ' || amr || ' ' LIKE '% hwk %';
UPDATE oidc_auth_requests SET acr = 'phr' WHERE acr = 'phrh';
UPDATE oidc_auth_requests SET amr = TRIM(REPLACE(' ' || amr || ' ', ' hwk ', ' pop ')) WHERE ' ' || amr || ' ' LIKE '% hwk %';
UPDATE oidc_tokens SET acr = 'phr' WHERE acr = 'phrh';
UPDATE oidc_tokens SET amr = TRIM(REPLACE(' ' || amr || ' ', ' hwk ', ' pop ')) WHERE ' ' || amr || ' ' LIKE '% hwk %';
