-- What the control API (`serve --control-token`) shares between the instances on one store:
-- how far the server's clock is set from the wall clock, and how many times the store has
-- been reset (each instance forgets what it holds in memory when this changes).
CREATE TABLE control_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    clock_offset_ms BIGINT NOT NULL,
    resets BIGINT NOT NULL
);

INSERT INTO control_state (id, clock_offset_ms, resets) VALUES (1, 0, 0);
