//! The registry's schema, one migration per version, for each engine. Both lists have the same
//! length and the same numbering: version N is the same tables on SQLite and on PostgreSQL.

/// The registry's schema, one migration per version (version = index + 1).
pub const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE operators (
    id                    INTEGER PRIMARY KEY,
    identification_number TEXT NOT NULL UNIQUE,
    legal_name            TEXT NOT NULL,
    qst_number            TEXT UNIQUE,
    gst_number            TEXT,
    created_at            INTEGER NOT NULL,
    failed_attempts       INTEGER NOT NULL DEFAULT 0,
    first_failure_at      INTEGER,
    locked_until          INTEGER
);
CREATE TABLE file_numbers (
    operator_id INTEGER NOT NULL REFERENCES operators(id),
    file_number TEXT NOT NULL,
    sector      TEXT NOT NULL,
    PRIMARY KEY (operator_id, file_number)
);
CREATE TABLE authorization_codes (
    id            INTEGER PRIMARY KEY,
    operator_id   INTEGER NOT NULL REFERENCES operators(id),
    code          TEXT NOT NULL UNIQUE,
    sector        TEXT NOT NULL,
    activated_at  INTEGER NOT NULL,
    superseded_at INTEGER,
    created_at    INTEGER NOT NULL
);
CREATE INDEX authorization_codes_operator ON authorization_codes(operator_id, sector);
CREATE TABLE products (
    environment        TEXT NOT NULL,
    partner_id         TEXT NOT NULL,
    srs_id             TEXT NOT NULL,
    version_id         TEXT NOT NULL,
    certification_code TEXT NOT NULL,
    version            TEXT NOT NULL,
    parent_version     TEXT NOT NULL,
    certified          INTEGER NOT NULL,
    PRIMARY KEY (environment, partner_id, srs_id, version_id)
);
CREATE TABLE devices (
    device_id   TEXT PRIMARY KEY,
    issued_at   INTEGER NOT NULL,
    operator_id INTEGER REFERENCES operators(id),
    host_device TEXT REFERENCES devices(device_id)
);
CREATE TABLE certificates (
    id                 INTEGER PRIMARY KEY,
    serial             TEXT NOT NULL UNIQUE,
    thumbprint         TEXT NOT NULL UNIQUE,
    environment        TEXT NOT NULL,
    operator_id        INTEGER NOT NULL REFERENCES operators(id),
    device_id          TEXT REFERENCES devices(device_id),
    nickname           TEXT NOT NULL,
    subject            TEXT NOT NULL,
    not_before         INTEGER NOT NULL,
    not_after          INTEGER NOT NULL,
    der                BLOB NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('active', 'replaced', 'deleted', 'revoked')),
    issued_at          INTEGER NOT NULL,
    replaced_by        TEXT REFERENCES certificates(serial),
    ended_at           INTEGER,
    revocation_reason  INTEGER,
    revocation_channel TEXT,
    ended_by           TEXT
);
CREATE INDEX certificates_operator ON certificates(operator_id, nickname);
CREATE INDEX certificates_device ON certificates(device_id);
CREATE INDEX certificates_revoked ON certificates(environment, status);
CREATE TABLE certificate_events (
    id          INTEGER PRIMARY KEY,
    certificate INTEGER NOT NULL REFERENCES certificates(id),
    at          INTEGER NOT NULL,
    event       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX certificate_events_certificate ON certificate_events(certificate);
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    error_id  TEXT,
    detail    TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
",
    r"
ALTER TABLE certificates ADD COLUMN key_id TEXT;
CREATE INDEX certificates_key ON certificates(key_id);
",
    r"
CREATE TABLE agents (
    agent_id      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
ALTER TABLE operators ADD COLUMN password_hash TEXT;
",
    // A server administrator holds one code per sector it administers (RBC, TRP); a new code
    // supersedes only the one of the same scope.
    r"
ALTER TABLE authorization_codes ADD COLUMN scope TEXT;
",
    // The online services' sessions, in the registry: they survive a restart and can be shared
    // by several authority processes. Only a hash of the token is kept.
    r"
CREATE TABLE portal_sessions (
    token_hash  TEXT PRIMARY KEY,
    operator_id INTEGER NOT NULL REFERENCES operators(id),
    csrf        TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    flash_fr    TEXT,
    flash_en    TEXT
);
CREATE INDEX portal_sessions_expiry ON portal_sessions(expires_at);
",
    // What the registry is bound to: the SHA-256 of the authority's CA certificate, so that a
    // process opening it with another folder's CA is refused.
    r"
CREATE TABLE authority (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
",
    // The online services' password is a credential of its own, with its own lockout: failed
    // passwords never refuse an authorization code, nor failed codes the online services.
    r"
ALTER TABLE operators ADD COLUMN password_failed_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE operators ADD COLUMN password_first_failure_at INTEGER;
ALTER TABLE operators ADD COLUMN password_locked_until INTEGER;
",
    // Which audit entries are linked by HMAC under the folder's key rather than plain SHA-256.
    r"
ALTER TABLE audit_log ADD COLUMN keyed INTEGER NOT NULL DEFAULT 0;
",
    // Transactions received, each once by its actu.
    r"
CREATE TABLE transactions (
    id          INTEGER PRIMARY KEY,
    environment TEXT NOT NULL,
    actu        TEXT NOT NULL,
    no_trans    TEXT NOT NULL,
    dat_trans   TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    signer      TEXT NOT NULL,
    batched     INTEGER NOT NULL,
    body        TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    audit_seq   INTEGER NOT NULL,
    UNIQUE (environment, actu)
);
CREATE INDEX transactions_device ON transactions(device_id, no_trans);
",
    // The user accounts SRSs declared (utilisateur AJO/SUP), and the documents they sent
    // (document RUT/HAB), each document once by its signature.
    r"
CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    environment TEXT NOT NULL,
    operator_id INTEGER NOT NULL REFERENCES operators(id),
    device_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    added_at    INTEGER NOT NULL,
    removed_at  INTEGER,
    audit_seq   INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_current ON users(environment, operator_id, device_id, name)
    WHERE removed_at IS NULL;
CREATE TABLE documents (
    id          INTEGER PRIMARY KEY,
    environment TEXT NOT NULL,
    kind        TEXT NOT NULL,
    signature   TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    operator_id INTEGER NOT NULL REFERENCES operators(id),
    doc         TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    audit_seq   INTEGER NOT NULL,
    UNIQUE (environment, signature)
);
",
    // Products: each version in a state rather than certified or not, the modes and sectors it
    // is registered with, and the developers (partners) with their registration.
    r"
ALTER TABLE products ADD COLUMN state TEXT NOT NULL DEFAULT 'registered';
UPDATE products SET state = 'certified' WHERE certified <> 0;
ALTER TABLE products DROP COLUMN certified;
ALTER TABLE products ADD COLUMN mode TEXT NOT NULL DEFAULT 'both';
ALTER TABLE products ADD COLUMN sectors TEXT NOT NULL DEFAULT 'RBC,TRP';
CREATE TABLE partners (
    partner_id TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    registered INTEGER NOT NULL
);
INSERT INTO partners (partner_id, name, registered) SELECT DISTINCT partner_id, '', 1 FROM products;
",
    // Operators disabled by the authority, and certificates listed by expiry.
    r"
ALTER TABLE operators ADD COLUMN disabled_at INTEGER;
CREATE INDEX certificates_not_after ON certificates(not_after, serial);
",
    // The customer-service console's sessions (the operator whose identity the agent verified
    // last, a message to show once), and the agents' failed sign-ins with their lockout.
    r"
CREATE TABLE agent_sessions (
    token_hash  TEXT PRIMARY KEY,
    agent_id    TEXT NOT NULL REFERENCES agents(agent_id),
    csrf        TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    operator_id INTEGER REFERENCES operators(id),
    flash_fr    TEXT,
    flash_en    TEXT
);
CREATE INDEX agent_sessions_expiry ON agent_sessions(expires_at);
ALTER TABLE agents ADD COLUMN failed_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN first_failure_at INTEGER;
ALTER TABLE agents ADD COLUMN locked_until INTEGER;
",
    // Certification runs (ESSAI): where each product's run stands, and every request and answer
    // of its runs, kept as evidence.
    r"
CREATE TABLE essai_sessions (
    partner_id  TEXT NOT NULL,
    srs_id      TEXT NOT NULL,
    version_id  TEXT NOT NULL,
    run         INTEGER NOT NULL,
    expected    TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (partner_id, srs_id, version_id)
);
CREATE TABLE essai_exchanges (
    id          INTEGER PRIMARY KEY,
    partner_id  TEXT NOT NULL,
    srs_id      TEXT NOT NULL,
    version_id  TEXT NOT NULL,
    run         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    test_case   TEXT NOT NULL,
    service     TEXT NOT NULL,
    verdict     TEXT NOT NULL,
    next        TEXT NOT NULL,
    request     TEXT NOT NULL,
    status      INTEGER NOT NULL,
    answer      TEXT NOT NULL
);
CREATE INDEX essai_exchanges_run ON essai_exchanges(partner_id, srs_id, version_id, run, id);
",
];

/// The same schema for PostgreSQL: `BIGINT` for SQLite's integers (times are Unix seconds),
/// `BYTEA` for its blobs, identity columns for its row ids, and a trigger function for the
/// append-only audit log.
#[cfg(feature = "postgres")]
pub(crate) const PG_MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE operators (
    id                    BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    identification_number TEXT NOT NULL UNIQUE,
    legal_name            TEXT NOT NULL,
    qst_number            TEXT UNIQUE,
    gst_number            TEXT,
    created_at            BIGINT NOT NULL,
    failed_attempts       BIGINT NOT NULL DEFAULT 0,
    first_failure_at      BIGINT,
    locked_until          BIGINT
);
CREATE TABLE file_numbers (
    operator_id BIGINT NOT NULL REFERENCES operators(id),
    file_number TEXT NOT NULL,
    sector      TEXT NOT NULL,
    PRIMARY KEY (operator_id, file_number)
);
CREATE TABLE authorization_codes (
    id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    operator_id   BIGINT NOT NULL REFERENCES operators(id),
    code          TEXT NOT NULL UNIQUE,
    sector        TEXT NOT NULL,
    activated_at  BIGINT NOT NULL,
    superseded_at BIGINT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX authorization_codes_operator ON authorization_codes(operator_id, sector);
CREATE TABLE products (
    environment        TEXT NOT NULL,
    partner_id         TEXT NOT NULL,
    srs_id             TEXT NOT NULL,
    version_id         TEXT NOT NULL,
    certification_code TEXT NOT NULL,
    version            TEXT NOT NULL,
    parent_version     TEXT NOT NULL,
    certified          BIGINT NOT NULL,
    PRIMARY KEY (environment, partner_id, srs_id, version_id)
);
CREATE TABLE devices (
    device_id   TEXT PRIMARY KEY,
    issued_at   BIGINT NOT NULL,
    operator_id BIGINT REFERENCES operators(id),
    host_device TEXT REFERENCES devices(device_id)
);
CREATE TABLE certificates (
    id                 BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    serial             TEXT NOT NULL UNIQUE,
    thumbprint         TEXT NOT NULL UNIQUE,
    environment        TEXT NOT NULL,
    operator_id        BIGINT NOT NULL REFERENCES operators(id),
    device_id          TEXT REFERENCES devices(device_id),
    nickname           TEXT NOT NULL,
    subject            TEXT NOT NULL,
    not_before         BIGINT NOT NULL,
    not_after          BIGINT NOT NULL,
    der                BYTEA NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('active', 'replaced', 'deleted', 'revoked')),
    issued_at          BIGINT NOT NULL,
    replaced_by        TEXT REFERENCES certificates(serial),
    ended_at           BIGINT,
    revocation_reason  BIGINT,
    revocation_channel TEXT,
    ended_by           TEXT
);
CREATE INDEX certificates_operator ON certificates(operator_id, nickname);
CREATE INDEX certificates_device ON certificates(device_id);
CREATE INDEX certificates_revoked ON certificates(environment, status);
CREATE TABLE certificate_events (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    certificate BIGINT NOT NULL REFERENCES certificates(id),
    at          BIGINT NOT NULL,
    event       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX certificate_events_certificate ON certificate_events(certificate);
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    error_id  TEXT,
    detail    TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash      BYTEA NOT NULL
);
CREATE FUNCTION websrm_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION websrm_audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION websrm_audit_log_append_only();
",
    r"
ALTER TABLE certificates ADD COLUMN key_id TEXT;
CREATE INDEX certificates_key ON certificates(key_id);
",
    r"
CREATE TABLE agents (
    agent_id      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
ALTER TABLE operators ADD COLUMN password_hash TEXT;
",
    r"
ALTER TABLE authorization_codes ADD COLUMN scope TEXT;
",
    r"
CREATE TABLE portal_sessions (
    token_hash  TEXT PRIMARY KEY,
    operator_id BIGINT NOT NULL REFERENCES operators(id),
    csrf        TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    flash_fr    TEXT,
    flash_en    TEXT
);
CREATE INDEX portal_sessions_expiry ON portal_sessions(expires_at);
",
    // What the registry is bound to: the SHA-256 of the authority's CA certificate, so that a
    // process opening it with another folder's CA is refused.
    r"
CREATE TABLE authority (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
",
    // The online services' password is a credential of its own, with its own lockout: failed
    // passwords never refuse an authorization code, nor failed codes the online services.
    r"
ALTER TABLE operators ADD COLUMN password_failed_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE operators ADD COLUMN password_first_failure_at BIGINT;
ALTER TABLE operators ADD COLUMN password_locked_until BIGINT;
",
    // Which audit entries are linked by HMAC under the folder's key rather than plain SHA-256.
    r"
ALTER TABLE audit_log ADD COLUMN keyed BIGINT NOT NULL DEFAULT 0;
",
    r"
CREATE TABLE transactions (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    environment TEXT NOT NULL,
    actu        TEXT NOT NULL,
    no_trans    TEXT NOT NULL,
    dat_trans   TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    signer      TEXT NOT NULL,
    batched     BIGINT NOT NULL,
    body        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    audit_seq   BIGINT NOT NULL,
    UNIQUE (environment, actu)
);
CREATE INDEX transactions_device ON transactions(device_id, no_trans);
",
    r"
CREATE TABLE users (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    environment TEXT NOT NULL,
    operator_id BIGINT NOT NULL REFERENCES operators(id),
    device_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    added_at    BIGINT NOT NULL,
    removed_at  BIGINT,
    audit_seq   BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_current ON users(environment, operator_id, device_id, name)
    WHERE removed_at IS NULL;
CREATE TABLE documents (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    environment TEXT NOT NULL,
    kind        TEXT NOT NULL,
    signature   TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    operator_id BIGINT NOT NULL REFERENCES operators(id),
    doc         TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    audit_seq   BIGINT NOT NULL,
    UNIQUE (environment, signature)
);
",
    r"
ALTER TABLE products ADD COLUMN state TEXT NOT NULL DEFAULT 'registered';
UPDATE products SET state = 'certified' WHERE certified <> 0;
ALTER TABLE products DROP COLUMN certified;
ALTER TABLE products ADD COLUMN mode TEXT NOT NULL DEFAULT 'both';
ALTER TABLE products ADD COLUMN sectors TEXT NOT NULL DEFAULT 'RBC,TRP';
CREATE TABLE partners (
    partner_id TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    registered BIGINT NOT NULL
);
INSERT INTO partners (partner_id, name, registered) SELECT DISTINCT partner_id, '', 1 FROM products;
",
    r"
ALTER TABLE operators ADD COLUMN disabled_at BIGINT;
CREATE INDEX certificates_not_after ON certificates(not_after, serial);
",
    r"
CREATE TABLE agent_sessions (
    token_hash  TEXT PRIMARY KEY,
    agent_id    TEXT NOT NULL REFERENCES agents(agent_id),
    csrf        TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    operator_id BIGINT REFERENCES operators(id),
    flash_fr    TEXT,
    flash_en    TEXT
);
CREATE INDEX agent_sessions_expiry ON agent_sessions(expires_at);
ALTER TABLE agents ADD COLUMN failed_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN first_failure_at BIGINT;
ALTER TABLE agents ADD COLUMN locked_until BIGINT;
",
    r"
CREATE TABLE essai_sessions (
    partner_id  TEXT NOT NULL,
    srs_id      TEXT NOT NULL,
    version_id  TEXT NOT NULL,
    run         BIGINT NOT NULL,
    expected    TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (partner_id, srs_id, version_id)
);
CREATE TABLE essai_exchanges (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    partner_id  TEXT NOT NULL,
    srs_id      TEXT NOT NULL,
    version_id  TEXT NOT NULL,
    run         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    test_case   TEXT NOT NULL,
    service     TEXT NOT NULL,
    verdict     TEXT NOT NULL,
    next        TEXT NOT NULL,
    request     TEXT NOT NULL,
    status      BIGINT NOT NULL,
    answer      TEXT NOT NULL
);
CREATE INDEX essai_exchanges_run ON essai_exchanges(partner_id, srs_id, version_id, run, id);
",
];
