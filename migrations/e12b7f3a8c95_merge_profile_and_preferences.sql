-- revision: e12b7f3a8c95
-- parents: b7a20c4e6f13, c58e1d9f0a64
-- message: merge profile and preferences
-- created: 2026-10-21T08:05:57Z

-- migrate:up

-- migrate:down
