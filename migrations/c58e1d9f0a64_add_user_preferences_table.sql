-- revision: c58e1d9f0a64
-- parents: 9e3f5a71c2d8
-- message: add user preferences table
-- created: 2026-10-20T16:20:31Z

-- migrate:up
CREATE TABLE user_preferences (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    newsletter BOOLEAN NOT NULL DEFAULT FALSE,
    theme VARCHAR(20) NOT NULL DEFAULT 'light'
);

-- migrate:down
DROP TABLE user_preferences;
