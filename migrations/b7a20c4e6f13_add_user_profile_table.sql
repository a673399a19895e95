-- revision: b7a20c4e6f13
-- parents: 9e3f5a71c2d8
-- message: add user profile table
-- created: 2026-10-19T11:47:02Z

-- migrate:up
CREATE TABLE user_profile (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    display_name VARCHAR(200),
    bio TEXT,
    location VARCHAR(200)
);

-- migrate:down
DROP TABLE user_profile;
