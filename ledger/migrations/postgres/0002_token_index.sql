-- The API finds a tenant by the SHA-256 of the presented token (GET /anchor/plan has no
-- tenant in its path). Unique: two tenants can never share a token.
CREATE UNIQUE INDEX tenants_token_hash ON tenants (token_hash);
