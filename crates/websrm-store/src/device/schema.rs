//! The device store's schema.

/// The device store's schema, one migration per version (version = index + 1).
pub const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE device (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    device_id   TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('assigned', 'entered')),
    recorded_at INTEGER NOT NULL
);
CREATE TABLE slots (
    environment  TEXT NOT NULL,
    operator     TEXT NOT NULL,
    installation TEXT NOT NULL,
    nickname     TEXT NOT NULL,
    certificate  BLOB NOT NULL,
    certif_psi   TEXT NOT NULL,
    sealed_key   BLOB NOT NULL,
    serial       TEXT NOT NULL UNIQUE,
    thumbprint   TEXT NOT NULL,
    not_before   INTEGER NOT NULL,
    not_after    INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (environment, operator, installation)
);
CREATE TABLE pending (
    id           INTEGER PRIMARY KEY,
    environment  TEXT NOT NULL,
    operator     TEXT NOT NULL,
    installation TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('enrol', 'replace', 'delete')),
    nickname     TEXT,
    sealed_key   BLOB,
    csr          BLOB,
    serial       TEXT,
    created_at   INTEGER NOT NULL,
    UNIQUE (environment, operator, installation),
    CHECK ((kind = 'delete') = (sealed_key IS NULL AND csr IS NULL))
);
CREATE TABLE history (
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    environment  TEXT,
    operator     TEXT,
    installation TEXT,
    event        TEXT NOT NULL,
    serial       TEXT,
    other_serial TEXT,
    device_id    TEXT,
    error_id     TEXT,
    return_code  TEXT,
    detail       TEXT
);
",
    r"
CREATE TABLE terminals (
    label       TEXT PRIMARY KEY,
    device_id   TEXT NOT NULL UNIQUE,
    obtained_at INTEGER NOT NULL,
    certificate TEXT NOT NULL CHECK (certificate IN ('installed', 'none'))
);
CREATE TABLE chains (
    environment TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    srs_id      TEXT NOT NULL,
    qst         TEXT NOT NULL,
    last_actu   TEXT NOT NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (environment, device_id, srs_id, qst)
);
",
    // A certificate the authority no longer accepts (011E: revoked, deleted or replaced
    // elsewhere) is told apart from one seen on the CRL; the CHECK changes, so the table is
    // rebuilt.
    r"
CREATE TABLE slots_v3 (
    environment  TEXT NOT NULL,
    operator     TEXT NOT NULL,
    installation TEXT NOT NULL,
    nickname     TEXT NOT NULL,
    certificate  BLOB NOT NULL,
    certif_psi   TEXT NOT NULL,
    sealed_key   BLOB NOT NULL,
    serial       TEXT NOT NULL UNIQUE,
    thumbprint   TEXT NOT NULL,
    not_before   INTEGER NOT NULL,
    not_after    INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'revoked', 'refused')),
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (environment, operator, installation)
);
INSERT INTO slots_v3 SELECT environment, operator, installation, nickname, certificate, certif_psi,
    sealed_key, serial, thumbprint, not_before, not_after, status, updated_at FROM slots;
DROP TABLE slots;
ALTER TABLE slots_v3 RENAME TO slots;
",
    // Answers remembered by idempotency key, so that a request retried after a lost answer
    // (same key, same request) gets the first answer again instead of a second effect.
    r"
CREATE TABLE answers (
    key        TEXT PRIMARY KEY,
    operation  TEXT NOT NULL,
    digest     TEXT NOT NULL,
    status     INTEGER NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX answers_created_at ON answers (created_at);
",
    // The outbox: each transaction written with its signature link before it is sent, and what
    // the authority answered; offline mode while it lasts.
    r"
CREATE TABLE outbox (
    id             INTEGER PRIMARY KEY,
    environment    TEXT NOT NULL,
    operator       TEXT NOT NULL,
    installation   TEXT NOT NULL,
    device_id      TEXT NOT NULL,
    no_trans       TEXT NOT NULL,
    gst            TEXT NOT NULL,
    actu           TEXT NOT NULL,
    body           TEXT NOT NULL,
    size           INTEGER NOT NULL,
    recorded_at    INTEGER NOT NULL,
    attempts       INTEGER NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'refused')),
    receipt_number TEXT,
    receipt_date   TEXT,
    receipt_batch  INTEGER,
    errors         TEXT,
    answered_at    INTEGER,
    CHECK ((state = 'sent') = (receipt_number IS NOT NULL))
);
CREATE INDEX outbox_pending ON outbox (environment, operator, installation, device_id, id)
    WHERE state = 'pending';
CREATE TABLE offline (
    environment TEXT PRIMARY KEY,
    since       INTEGER NOT NULL,
    reason      TEXT NOT NULL
);
",
    // A remote server writes what its devices signed into its own outbox: one `actu`, one
    // entry, however often a device hands the same transaction over.
    r"
CREATE UNIQUE INDEX outbox_actu ON outbox (environment, actu);
",
];
