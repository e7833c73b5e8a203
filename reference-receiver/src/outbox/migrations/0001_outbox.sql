-- A durable queue per relay endpoint (`queue`), worked by every replica: the reference
-- receiver's queued relay. A worker claims the due head of a lane with FOR UPDATE SKIP LOCKED
-- and holds the claim (claimed_until, claim) while it attempts the event.
--
-- IF NOT EXISTS: a database migrated by an earlier release got this table from the SDK's own
-- step 2, which created it exactly so; this step then only records that it is in place.
CREATE TABLE IF NOT EXISTS receiver.outbox (
    id bigserial PRIMARY KEY,
    queue text NOT NULL,
    -- Events of one lane (an entity) go out one at a time in id order; NULL: a lane of its own.
    lane text,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead', 'delivered')),
    -- Unix milliseconds.
    next_attempt_at bigint NOT NULL,
    enqueued_at bigint NOT NULL,
    claimed_until bigint NOT NULL DEFAULT 0,
    claim bigint NOT NULL DEFAULT 0,
    -- The event, its attempts and counts, as the receiver encodes them.
    record bytea NOT NULL
);

CREATE INDEX IF NOT EXISTS outbox_due ON receiver.outbox (queue, next_attempt_at, id)
    WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS outbox_lanes ON receiver.outbox (queue, lane, id)
    WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS outbox_shelves ON receiver.outbox (queue, state, id);
