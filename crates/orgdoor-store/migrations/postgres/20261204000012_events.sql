-- The record of every change of access, as Atlas's activity feeds show it. Append-only: no
-- statement changes or deletes a row. `seq` orders events across instances; a project's feed
-- holds the events with its id.
CREATE TABLE events (
    seq               BIGSERIAL PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    org_id            TEXT NOT NULL,
    group_id          TEXT,
    -- Whether the organization's feed shows it: every event without a project, and those of
    -- a project whose type both feeds show.
    in_org_feed       BOOLEAN NOT NULL,
    event_type        TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    actor_kind        TEXT NOT NULL,
    actor_api_key_id  TEXT,
    actor_public_key  TEXT,
    actor_user_id     TEXT,
    actor_username    TEXT,
    remote_address    TEXT,
    target_username   TEXT,
    target_user_id    TEXT,
    team_id           TEXT,
    target_public_key TEXT,
    access_list_entry TEXT
);
CREATE INDEX events_org ON events (org_id, in_org_feed, seq);
CREATE INDEX events_group ON events (group_id, seq);
