-- Keys become SHA-256 digests of their encoding (32 bytes), so no key can pass the btree row
-- limit (2704 bytes): a raw key from a long entity id failed the commit after the handler had
-- run. Existing rows are converted in place; a raw key never collides with a digest (a digest
-- would have to equal some key's whole encoding).
--
-- Upgrading replicas: a replica of an earlier release reads and writes raw keys, so it misses
-- every mark and delivery id written after this step. Stop the old replicas before the first
-- new one starts (a rolling upgrade would let a retry be handled twice meanwhile).
UPDATE receiver.marks SET key = sha256(key);
UPDATE receiver.deliveries SET key = sha256(key);
