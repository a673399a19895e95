-- revision: 0a9d4e6b2c31
-- parents: f60d2c8b1e47
-- message: add startup tagline
-- created: 2026-11-03T10:41:09Z

-- migrate:up
ALTER TABLE startups ADD COLUMN tagline VARCHAR(140);

-- migrate:down
ALTER TABLE startups DROP COLUMN tagline;
