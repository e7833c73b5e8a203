-- An ordering horizon purges marks older than it: read only those.
CREATE INDEX marks_created_at ON receiver.marks (created_at);
