-- A tenant's own RFC 3161 authority (issue 22, seed 002's per-tenant TSA policy): its URLs
-- (comma-separated, tried in order), the policy OID its tokens must carry, and the PEM CA
-- bundle they must chain to. NULL url: the fleet's LEDGER_TSA_URL.
ALTER TABLE tenants ADD COLUMN tsa_url TEXT;
ALTER TABLE tenants ADD COLUMN tsa_policy TEXT;
ALTER TABLE tenants ADD COLUMN tsa_ca_pem TEXT;
