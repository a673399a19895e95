-- revision: f60d2c8b1e47
-- parents: e12b7f3a8c95
-- message: backfill profile display names
-- created: 2026-10-28T13:30:12Z

-- Data migration: every user gets a profile whose display name defaults to
-- the user's full name, and default preferences.

-- migrate:up
INSERT INTO user_profile (user_id, display_name)
SELECT id, full_name FROM users
WHERE id NOT IN (SELECT user_id FROM user_profile);

INSERT INTO user_preferences (user_id)
SELECT id FROM users
WHERE id NOT IN (SELECT user_id FROM user_preferences);

UPDATE user_profile SET display_name = (SELECT full_name FROM users WHERE users.id = user_profile.user_id)
WHERE display_name IS NULL;

-- migrate:down
-- The backfilled rows are indistinguishable from rows users created since;
-- reverting leaves them in place.
