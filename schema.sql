-- The models of the example application: the schema it expects. Like an
-- ORM's model module for Alembic, `cargo migrate generate "message"` writes a
-- revision for whatever differs between this file and what migrations/
-- produces, and `cargo migrate check` fails while they differ.

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(320) NOT NULL UNIQUE,
    full_name VARCHAR(200) NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE startups (
    id INTEGER PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    founder_id INTEGER NOT NULL REFERENCES users (id),
    website VARCHAR(500),
    founded_on DATE,
    tagline VARCHAR(140)
);
CREATE INDEX ix_startups_founder_id ON startups (founder_id);

CREATE TABLE user_profile (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    display_name VARCHAR(200),
    bio TEXT,
    location VARCHAR(200)
);

CREATE TABLE user_preferences (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    newsletter BOOLEAN NOT NULL DEFAULT FALSE,
    theme VARCHAR(20) NOT NULL DEFAULT 'light'
);
