import type { Migration } from './index.js'

/**
 * The scale-out truth: tracks (identity, metadata at creation), per-segment
 * counts, and the global play sequence. `tracks.version` is the sum of the
 * track's counts: every play adds one under the track's row lock, so a
 * track's versions commit in order and name its audio on every node.
 */
const migration: Migration = {
  version: 1,
  name: 'cluster: tracks, segment counts, plays',
  sql: `
CREATE TABLE tracks (
  id text PRIMARY KEY,
  filename text NOT NULL,
  key text NOT NULL,
  metadata jsonb NOT NULL,
  version bigint NOT NULL,
  total_streams bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now()
);
-- One current track per name (names that differ by case are one track, as on disk).
CREATE UNIQUE INDEX tracks_key ON tracks (key);

CREATE TABLE segment_plays (
  track_id text NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
  segment integer NOT NULL,
  plays integer NOT NULL,
  -- the track version of this segment's last play: catch-up reads what changed after a version
  version bigint NOT NULL,
  PRIMARY KEY (track_id, segment)
);
CREATE INDEX segment_plays_version ON segment_plays (track_id, version);

-- The global play sequence (live events' ids); rows older than a day are pruned.
CREATE TABLE plays (
  seq bigserial PRIMARY KEY,
  track_id text NOT NULL,
  segment integer NOT NULL,
  plays integer NOT NULL,
  version bigint NOT NULL,
  at timestamptz NOT NULL
);
CREATE INDEX plays_at ON plays (at);
`
}

export default migration
