-- Ordering marks: the newest created_at committed per ordering key.
CREATE TABLE receiver.marks (
    -- OrderingKey::encode(): length-prefixed parts, which may hold any byte (text cannot hold NUL).
    key bytea PRIMARY KEY,
    -- Nanoseconds since the Unix epoch.
    created_at bigint NOT NULL
);

-- Handled deliveries, remembered until they expire.
CREATE TABLE receiver.deliveries (
    -- DeliveryKey::encode().
    key bytea PRIMARY KEY,
    -- Unix seconds; the entry counts as handled while expires_at > now.
    expires_at bigint NOT NULL
);

-- Purging reads only what is due.
CREATE INDEX deliveries_expires_at ON receiver.deliveries (expires_at);
