-- revision: 9e3f5a71c2d8
-- parents: 4d1c8e2a9b07
-- message: create startups
-- created: 2026-10-05T14:03:10Z

-- migrate:up
CREATE TABLE startups (
    id INTEGER PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    founder_id INTEGER NOT NULL REFERENCES users (id),
    website VARCHAR(500),
    founded_on DATE
);
CREATE INDEX ix_startups_founder_id ON startups (founder_id);

-- migrate:down
DROP INDEX ix_startups_founder_id;
DROP TABLE startups;
