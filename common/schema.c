#include <stdio.h>

#include "nodestatus.h"
#include "schema.h"

/*
 * Replicated tables (kmd_cluster, kmd_nodes, kmd_node_health, kmd_users,
 * kmd_keys) join the pglogical replication set when the node is
 * clustered; node-local ones (kmd_local, kmd_alarms) never do.
 */
static const char v1[] =
    "CREATE EXTENSION IF NOT EXISTS pglogical;\n"
    "CREATE TABLE kmd_cluster (\n"
    "  cluster_id uuid PRIMARY KEY,\n"
    "  created timestamptz NOT NULL DEFAULT now(),\n"
    "  ca_cert text NOT NULL,\n"
    "  ca_key_sealed bytea NOT NULL,\n"
    "  schema_version int NOT NULL,\n"
    "  kmd_version text NOT NULL);\n"
    "CREATE TABLE kmd_nodes (\n"
    "  node_id uuid PRIMARY KEY,\n"
    "  host text NOT NULL,\n"
    "  port int NOT NULL DEFAULT 5432,\n"
    "  public_address text NOT NULL,\n"
    "  url text,\n"
    "  state text NOT NULL,\n"
    "  joined_at timestamptz NOT NULL DEFAULT now(),\n"
    "  version text NOT NULL,\n"
    "  shared_hsm boolean NOT NULL DEFAULT false,\n"
    "  cert text NOT NULL);\n"
    "CREATE TABLE kmd_node_health (\n"
    "  reporter uuid NOT NULL,\n"
    "  peer uuid NOT NULL,\n"
    "  view jsonb NOT NULL,\n"
    "  last_updated timestamptz NOT NULL,\n"
    "  PRIMARY KEY (reporter, peer));\n"
    "CREATE TABLE kmd_users (\n"
    "  name text PRIMARY KEY,\n"
    "  hash text NOT NULL,\n"
    "  created timestamptz NOT NULL DEFAULT now());\n"
    "CREATE TABLE kmd_keys (\n"
    "  key_id uuid PRIMARY KEY,\n"
    "  name text NOT NULL,\n"
    "  version int NOT NULL,\n"
    "  algorithm text NOT NULL,\n"
    "  material_sealed bytea NOT NULL,\n"
    "  created timestamptz NOT NULL DEFAULT now(),\n"
    "  UNIQUE (name, version));\n"
    "CREATE TABLE kmd_local (\n"
    "  one boolean PRIMARY KEY DEFAULT true CHECK (one),\n"
    "  node_id uuid NOT NULL,\n"
    "  cluster_id uuid NOT NULL,\n"
    "  kek_wrapped bytea NOT NULL,\n"
    "  node_key_sealed bytea NOT NULL,\n"
    "  node_cert text NOT NULL,\n"
    "  created timestamptz NOT NULL DEFAULT now());\n"
    "CREATE TABLE kmd_alarms (\n"
    "  alarm_id bigserial PRIMARY KEY,\n"
    "  kind text NOT NULL,\n"
    "  subject text NOT NULL,\n"
    "  message text NOT NULL,\n"
    "  raised timestamptz NOT NULL DEFAULT now(),\n"
    "  cleared timestamptz);\n"
    "DO $$ BEGIN\n"
    "  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kmd_replmon')\n"
    "  THEN CREATE ROLE kmd_replmon LOGIN; END IF;\n"
    "END $$;\n"
    "GRANT pg_monitor TO kmd_replmon;\n"
    "GRANT SELECT ON kmd_cluster, kmd_nodes, kmd_node_health, kmd_local,\n"
    "  kmd_alarms TO kmd_replmon;\n"
    "GRANT INSERT, UPDATE, DELETE ON kmd_node_health, kmd_alarms\n"
    "  TO kmd_replmon;\n"
    "GRANT USAGE ON SEQUENCE kmd_alarms_alarm_id_seq TO kmd_replmon;\n";

/* Join: the keys of a pending cluster csr, node-local. */
static const char v2[] =
    "CREATE TABLE kmd_join_pending (\n"
    "  one boolean PRIMARY KEY DEFAULT true CHECK (one),\n"
    "  node_id uuid NOT NULL,\n"
    "  host text NOT NULL,\n"
    "  public_address text NOT NULL,\n"
    "  csr text NOT NULL,\n"
    "  node_key_sealed bytea NOT NULL,\n"
    "  box_sk_sealed bytea NOT NULL,\n"
    "  created timestamptz NOT NULL DEFAULT now());\n";

/*
 * Join: peers (a certificate of the cluster CA whose CN is a node id, see
 * pg_ident.conf) log in as kmd_repl; pglogical's provider side and the
 * joiner's remote steps need a superuser.  dblink carries the joiner's
 * queries to a member through this node's PostgreSQL, which holds the
 * TLS key: the joiner never does.  Markers prove a join caught up.
 */
static const char v3[] =
    "CREATE EXTENSION IF NOT EXISTS dblink;\n"
    "DO $$ BEGIN\n"
    "  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kmd_repl')\n"
    "  THEN CREATE ROLE kmd_repl LOGIN REPLICATION SUPERUSER; END IF;\n"
    "END $$;\n"
    "CREATE TABLE kmd_join_markers (\n"
    "  join_id uuid NOT NULL,\n"
    "  origin uuid NOT NULL,\n"
    "  made timestamptz NOT NULL DEFAULT now(),\n"
    "  PRIMARY KEY (join_id, origin));\n"
    "ALTER TABLE kmd_local ADD COLUMN join_state text,\n"
    "  ADD COLUMN join_error text, ADD COLUMN join_member text,\n"
    "  ADD COLUMN join_progress text;\n"
    "GRANT SELECT ON kmd_join_pending TO kmd_replmon;\n";

/*
 * Monitoring.  A node's replmon rewrites its row about itself in
 * kmd_node_health every tick: that is its heartbeat.  When the row comes
 * in through replication, a REPLICA trigger notes on this node when it
 * arrived and the reporter's clock in it (kmd_peer_seen, node-local): how
 * long ago a peer was last heard from, and how far its clock is off.
 * kmd_slot_name is the name pglogical gives a subscriber's slot on its
 * provider (see pglogical's gen_slot_name; hashtext is its hash_any).
 * replmon is no superuser: two SECURITY DEFINER functions give it what
 * it reads of pglogical and of the replication origins, and nothing else.
 * kmd_node_status: a node's state when not ready; otherwise the views
 * of it (ready or down: a view written while it was still joining says
 * nothing now) by this node and by the nodes this node sees ready, "x"
 * when they disagree.
 * The trigger is a BEFORE one: pglogical 2.4's apply leaves a relcache
 * reference open for AFTER row triggers (a warning on every commit).
 */
static const char v4[] =
    "CREATE TABLE kmd_peer_seen (\n"
    "  peer uuid PRIMARY KEY,\n"
    "  peer_clock timestamptz NOT NULL,\n"
    "  seen timestamptz NOT NULL);\n"
    "CREATE FUNCTION kmd_heartbeat_seen() RETURNS trigger LANGUAGE plpgsql\n"
    "  AS $$ BEGIN\n"
    "  INSERT INTO kmd_peer_seen VALUES (NEW.reporter, NEW.last_updated,\n"
    "    clock_timestamp()) ON CONFLICT (peer) DO UPDATE SET\n"
    "    peer_clock = EXCLUDED.peer_clock, seen = EXCLUDED.seen;\n"
    "  RETURN NEW;\n"
    "END $$;\n"
    "CREATE TRIGGER kmd_heartbeat BEFORE INSERT OR UPDATE ON kmd_node_health\n"
    "  FOR EACH ROW WHEN (NEW.reporter = NEW.peer)\n"
    "  EXECUTE FUNCTION kmd_heartbeat_seen();\n"
    "ALTER TABLE kmd_node_health ENABLE REPLICA TRIGGER kmd_heartbeat;\n"
    "CREATE FUNCTION kmd_hex(id uuid, n int) RETURNS text LANGUAGE sql\n"
    "  IMMUTABLE AS $$ SELECT left(replace(id::text, '-', ''), n) $$;\n"
    "CREATE FUNCTION kmd_sub_name(provider uuid, subscriber uuid)\n"
    "  RETURNS text LANGUAGE sql IMMUTABLE AS\n"
    "  $$ SELECT 'kmd_' || kmd_hex(provider, 12) || '_' ||\n"
    "    kmd_hex(subscriber, 12) $$;\n"
    "CREATE FUNCTION kmd_short(s text) RETURNS text LANGUAGE sql IMMUTABLE\n"
    "  AS $$ SELECT CASE WHEN length(s) <= 16 THEN s ELSE left(s, 8) ||\n"
    "    left(lpad(to_hex(hashtext(s)), 8, '0'), 7) END $$;\n"
    "CREATE FUNCTION kmd_slot_name(provider uuid, subscriber uuid)\n"
    "  RETURNS text LANGUAGE sql IMMUTABLE AS\n"
    "  $$ SELECT 'pgl_' || kmd_short(current_database()) || '_' ||\n"
    "    kmd_short('kmd_' || kmd_hex(provider, 32)) || '_' ||\n"
    "    kmd_short(kmd_sub_name(provider, subscriber)) $$;\n"
    "CREATE FUNCTION kmd_subs() RETURNS TABLE (sub text, status text,\n"
    "  remote_lsn pg_lsn) LANGUAGE sql SECURITY DEFINER\n"
    "  SET search_path = pg_catalog AS $$\n"
    "  SELECT s.subscription_name::text, s.status, o.remote_lsn\n"
    "  FROM pglogical.show_subscription_status() s\n"
    "  LEFT JOIN pg_replication_origin_status o ON o.external_id = s.slot_name\n"
    "$$;\n"
    "REVOKE ALL ON FUNCTION kmd_subs() FROM PUBLIC;\n"
    "GRANT EXECUTE ON FUNCTION kmd_subs() TO kmd_replmon;\n"
    "GRANT SELECT ON kmd_peer_seen TO kmd_replmon;\n"
    "CREATE VIEW kmd_node_status AS\n"
    "  WITH me AS (SELECT node_id FROM kmd_local),\n"
    "  mine AS (SELECT h.peer, h.view #>> '{nodeInfo,status,code}' AS code\n"
    "    FROM kmd_node_health h JOIN me ON h.reporter = me.node_id),\n"
    "  trusted AS (SELECT node_id AS r FROM me\n"
    "    UNION SELECT peer FROM mine WHERE code = 'r'),\n"
    "  views AS (SELECT h.peer, h.view #>> '{nodeInfo,status,code}' AS code\n"
    "    FROM kmd_node_health h JOIN trusted t ON t.r = h.reporter\n"
    "    WHERE h.view #>> '{nodeInfo,status,code}' IN ('r', 'd')\n"
    "    UNION ALL SELECT node_id, 'r' FROM me)\n"
    "  SELECT n.node_id, CASE WHEN n.state <> 'r' THEN n.state ELSE\n"
    "    (SELECT CASE count(DISTINCT v.code) WHEN 0 THEN n.state\n"
    "      WHEN 1 THEN min(v.code) ELSE 'x' END\n"
    "      FROM views v WHERE v.peer = n.node_id) END AS code\n"
    "  FROM kmd_nodes n;\n"
    "GRANT SELECT ON kmd_node_status TO kmd_replmon;\n";

/* Which root of trust each node keeps the KEK under, for the warning. */
static const char v5[] =
    "ALTER TABLE kmd_nodes ADD COLUMN rot text NOT NULL DEFAULT"
    " 'software';\n";

/* The root-of-trust key this node's KEK is wrapped under (rot-keys). */
static const char v6[] =
    "ALTER TABLE kmd_local ADD COLUMN rot_key text;\n";

/* The served keys: each version's size and key check value. */
static const char v7[] =
    "ALTER TABLE kmd_keys ADD COLUMN size int NOT NULL DEFAULT 256,\n"
    "  ADD COLUMN kcv text NOT NULL DEFAULT '';\n";

/*
 * Served keys are conflict-free across nodes: each version row has a
 * random id, and two nodes making the same name or version at the same
 * moment both keep their row (a unique index on (name, version) would
 * stop the apply worker that meets the second one, and pglogical breaks
 * a tie of commit timestamps by applying the remote row on both sides,
 * which leaves them different).  Readers take, for a name and version,
 * the row with the smallest id on every node alike; decrypt tries each.
 * kmd_key_add is the one writer: under a lock on the name, it refuses a
 * version this node holds already.
 */
static const char v8[] =
    "ALTER TABLE kmd_keys DROP CONSTRAINT IF EXISTS"
    " kmd_keys_name_version_key;\n"
    "CREATE INDEX IF NOT EXISTS kmd_keys_name_version ON kmd_keys"
    " (name, version);\n"
    "CREATE FUNCTION kmd_key_add(p_id uuid, p_name text, p_version int,\n"
    "  p_size int, p_kcv text, p_mat bytea) RETURNS timestamptz\n"
    "  LANGUAGE plpgsql AS $$\n"
    "DECLARE t timestamptz;\n"
    "BEGIN\n"
    "  PERFORM pg_advisory_xact_lock(hashtext('kmd_keys:' || p_name));\n"
    "  IF EXISTS (SELECT FROM kmd_keys WHERE name = p_name AND\n"
    "      version >= p_version) THEN\n"
    "    RETURN NULL;\n"
    "  END IF;\n"
    "  INSERT INTO kmd_keys (key_id, name, version, algorithm, size, kcv,\n"
    "      material_sealed) VALUES (p_id, p_name, p_version, 'aes', p_size,\n"
    "      p_kcv, p_mat) RETURNING created INTO t;\n"
    "  RETURN t;\n"
    "END $$;\n";

/*
 * A removal leaves every node with the same data (workers/joiner/remove.c):
 * the removed node's last writes reach every node left, or none.  The
 * removed node is fenced: kmd_fence waits for the writers under way,
 * notes its WAL position, and from then on refuses writes of its own to
 * the served tables (the trigger fires for local writes, not for
 * pglogical's apply).  Each node left keeps its subscription from it
 * until that subscription has confirmed the fence position on the removed
 * node (kmd_drained, through dblink; true too when the slot is gone
 * there), so they all stop at one point of its stream.  A removal of a
 * node that was not ready (--force) drains nothing: kmd_nodes.drain.
 */
static const char v9[] =
    "ALTER TABLE kmd_nodes ADD COLUMN removed_at timestamptz,\n"
    "  ADD COLUMN drain boolean NOT NULL DEFAULT false;\n"
    "ALTER TABLE kmd_local ADD COLUMN fence_lsn pg_lsn;\n"
    "CREATE FUNCTION kmd_fenced() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  IF EXISTS (SELECT FROM kmd_local WHERE fence_lsn IS NOT NULL) THEN\n"
    "    RAISE EXCEPTION 'this node was removed from the cluster: run'\n"
    "      ' kmctl cluster delete here, then join a cluster again'\n"
    "      USING ERRCODE = 'read_only_sql_transaction';\n"
    "  END IF;\n"
    "  RETURN NULL;\n"
    "END $$;\n"
    "CREATE TRIGGER kmd_fence BEFORE INSERT OR UPDATE OR DELETE ON kmd_keys\n"
    "  FOR EACH STATEMENT EXECUTE FUNCTION kmd_fenced();\n"
    "CREATE TRIGGER kmd_fence BEFORE INSERT OR UPDATE OR DELETE ON kmd_users\n"
    "  FOR EACH STATEMENT EXECUTE FUNCTION kmd_fenced();\n"
    "CREATE FUNCTION kmd_fence() RETURNS pg_lsn LANGUAGE plpgsql AS $$\n"
    "DECLARE f pg_lsn;\n"
    "BEGIN\n"
    "  SELECT fence_lsn INTO f FROM kmd_local;\n"
    "  IF f IS NOT NULL OR NOT FOUND THEN RETURN f; END IF;\n"
    "  PERFORM set_config('lock_timeout', '5s', true);\n"
    "  LOCK TABLE kmd_keys, kmd_users IN SHARE MODE;\n"
    "  UPDATE kmd_local SET fence_lsn = pg_current_wal_insert_lsn()\n"
    "    WHERE fence_lsn IS NULL RETURNING fence_lsn INTO f;\n"
    "  RETURN coalesce(f, (SELECT fence_lsn FROM kmd_local));\n"
    "END $$;\n"
    "CREATE FUNCTION kmd_drained(p_sub text) RETURNS boolean\n"
    "  LANGUAGE plpgsql AS $$\n"
    "DECLARE dsn text; slot text; r text;\n"
    "BEGIN\n"
    "  SELECT i.if_dsn, s.sub_slot_name INTO dsn, slot\n"
    "    FROM pglogical.subscription s JOIN pglogical.node_interface i\n"
    "    ON i.if_id = s.sub_origin_if WHERE s.sub_name = p_sub;\n"
    "  IF NOT FOUND THEN RETURN true; END IF;\n"
    "  SELECT t.v INTO r FROM dblink(dsn, format('SELECT CASE WHEN NOT'\n"
    "    ' EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = %L)'\n"
    "    ' THEN ''gone'' WHEN (SELECT confirmed_flush_lsn FROM'\n"
    "    ' pg_replication_slots WHERE slot_name = %L) >= kmd_fence() THEN'\n"
    "    ' ''drained'' ELSE ''behind'' END', slot, slot)) AS t(v text);\n"
    "  RETURN r <> 'behind';\n"
    "EXCEPTION WHEN OTHERS THEN\n"
    "  RETURN false;\n"
    "END $$;\n";

/*
 * Membership changes, one at a time cluster-wide (workers/joiner/lease.c
 * has the protocol and its proof).  kmd_lease is node-local: at most one
 * row, the change this member has granted its lease to.  kmd_epoch() is
 * how many membership changes this node has seen: the replicated count
 * in kmd_cluster, or what a released lease told it, whichever is more.
 * A pending node (nodes create, no join yet) is a kmd_nodes row in state
 * 'p' until `expires'; `sponsor' is the member a join registered with,
 * where the join is decided ready or killed.
 */
static const char v10[] =
    "ALTER TABLE kmd_cluster ADD COLUMN epoch bigint NOT NULL DEFAULT 0;\n"
    "ALTER TABLE kmd_nodes ADD COLUMN expires timestamptz,\n"
    "  ADD COLUMN sponsor uuid, ADD COLUMN join_error text;\n"
    "ALTER TABLE kmd_local ADD COLUMN epoch bigint NOT NULL DEFAULT 0;\n"
    "CREATE TABLE kmd_lease (\n"
    "  one boolean PRIMARY KEY DEFAULT true CHECK (one),\n"
    "  token uuid NOT NULL,\n"
    "  holder uuid NOT NULL,\n"
    "  kind text NOT NULL,\n"
    "  subject uuid,\n"
    "  epoch bigint NOT NULL,\n"
    "  expires timestamptz NOT NULL,\n"
    "  progress text,\n"
    "  progress_at timestamptz NOT NULL,\n"
    "  taken timestamptz NOT NULL);\n"
    "GRANT SELECT ON kmd_lease TO kmd_replmon;\n"
    "CREATE FUNCTION kmd_epoch() RETURNS bigint LANGUAGE sql STABLE AS\n"
    "  $$ SELECT greatest(coalesce((SELECT max(epoch) FROM kmd_cluster), 0),\n"
    "    coalesce((SELECT epoch FROM kmd_local), 0)) $$;\n"
    /*
     * Whether the session may act for the node p_holder: over TLS only
     * with that node's certificate (a peer's stolen certificate cannot
     * take or keep another node's grant); over the local socket, this
     * node's kmd.
     */
    "CREATE FUNCTION kmd_lease_caller(p_holder uuid) RETURNS boolean\n"
    "  LANGUAGE sql STABLE AS $$\n"
    "  SELECT coalesce((SELECT NOT s.ssl OR substring(s.client_dn FROM\n"
    "    '/CN=([^/]+)') = p_holder::text FROM pg_stat_ssl s WHERE s.pid =\n"
    "    pg_backend_pid()), false) $$;\n"
    /* '' granted or renewed; otherwise why not, its first word the kind */
    "CREATE FUNCTION kmd_lease_take(p_token uuid, p_holder uuid,\n"
    "  p_kind text, p_subject uuid, p_epoch bigint, p_ttl float8,\n"
    "  p_progress text) RETURNS text LANGUAGE plpgsql AS $$\n"
    "DECLARE l kmd_lease; t timestamptz; e bigint;\n"
    "BEGIN\n"
    "  IF NOT kmd_lease_caller(p_holder) THEN\n"
    "    RETURN format('refused: the caller''s certificate is not that of'\n"
    "      ' node %s, the holder it names', p_holder);\n"
    "  END IF;\n"
    "  LOCK TABLE kmd_lease IN SHARE ROW EXCLUSIVE MODE;\n"
    "  t := clock_timestamp();\n"
    "  SELECT * INTO l FROM kmd_lease;\n"
    "  IF FOUND AND l.token = p_token THEN\n"
    "    IF l.expires <= t THEN\n"
    "      RETURN format('lapsed: its lease here ended at %s', l.expires);\n"
    "    END IF;\n"
    "    UPDATE kmd_lease SET expires = t + p_ttl * interval '1 second',\n"
    "      progress_at = CASE WHEN progress IS DISTINCT FROM p_progress\n"
    "        THEN t ELSE progress_at END, progress = p_progress;\n"
    "    RETURN '';\n"
    "  END IF;\n"
    "  IF FOUND AND l.expires > t AND NOT (l.holder = p_holder AND\n"
    "      l.kind = p_kind AND l.subject IS NOT DISTINCT FROM p_subject) THEN\n"
    "    IF l.kind = 'join' AND EXISTS (SELECT FROM kmd_nodes WHERE\n"
    "        node_id = l.subject AND state = '" NS_C_KILLED "') THEN\n"
    "      RETURN format('busy: the join of node %s was killed; its lease'\n"
    "        ' here lapses at %s UTC', l.subject,\n"
    "        to_char(l.expires AT TIME ZONE 'UTC', 'HH24:MI:SS'));\n"
    "    END IF;\n"
    "    RETURN format('busy: %s%s is under way (run by node %s, its'\n"
    "      ' lease here until %s UTC)', l.kind, ' of node ' || l.subject,\n"
    "      l.holder,\n"
    "      to_char(l.expires AT TIME ZONE 'UTC', 'HH24:MI:SS'));\n"
    "  END IF;\n"
    "  e := kmd_epoch();\n"
    "  IF e <> p_epoch THEN\n"
    "    RETURN format('epoch: this member has seen %s membership'\n"
    "      ' change(s), the request %s', e, p_epoch);\n"
    "  END IF;\n"
    "  DELETE FROM kmd_lease;\n"
    "  INSERT INTO kmd_lease VALUES (true, p_token, p_holder, p_kind,\n"
    "    p_subject, p_epoch, t + p_ttl * interval '1 second', p_progress,\n"
    "    t, t);\n"
    "  RETURN '';\n"
    "END $$;\n"
    /* A renewal: only of a live grant of this token; never a new one. */
    "CREATE FUNCTION kmd_lease_renew(p_token uuid, p_ttl float8,\n"
    "  p_progress text) RETURNS text LANGUAGE plpgsql AS $$\n"
    "DECLARE t timestamptz;\n"
    "BEGIN\n"
    "  LOCK TABLE kmd_lease IN SHARE ROW EXCLUSIVE MODE;\n"
    "  t := clock_timestamp();\n"
    "  UPDATE kmd_lease SET expires = t + p_ttl * interval '1 second',\n"
    "    progress_at = CASE WHEN progress IS DISTINCT FROM p_progress\n"
    "      THEN t ELSE progress_at END, progress = p_progress\n"
    "    WHERE token = p_token AND expires > t AND\n"
    "    kmd_lease_caller(holder);\n"
    "  IF NOT FOUND THEN\n"
    "    RETURN 'lapsed: this member holds no live grant of it';\n"
    "  END IF;\n"
    "  RETURN '';\n"
    "END $$;\n"
    "CREATE FUNCTION kmd_lease_check(p_token uuid) RETURNS boolean\n"
    "  LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  PERFORM FROM kmd_lease WHERE token = p_token AND\n"
    "    expires > clock_timestamp() FOR SHARE;\n"
    "  IF NOT FOUND THEN\n"
    "    RAISE EXCEPTION 'this membership change no longer holds its lease'\n"
    "      ' on this member' USING ERRCODE = 'lock_not_available';\n"
    "  END IF;\n"
    "  RETURN true;\n"
    "END $$;\n"
    /* A change's step that moves the epoch on, under its lease. */
    "CREATE FUNCTION kmd_lease_commit(p_token uuid, p_epoch bigint)\n"
    "  RETURNS bigint LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  PERFORM kmd_lease_check(p_token);\n"
    "  UPDATE kmd_cluster SET epoch = greatest(epoch, p_epoch);\n"
    "  RETURN p_epoch;\n"
    "END $$;\n"
    "CREATE FUNCTION kmd_lease_release(p_token uuid, p_epoch bigint)\n"
    "  RETURNS text LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  DELETE FROM kmd_lease WHERE token = p_token;\n"
    "  UPDATE kmd_local SET epoch = greatest(epoch, p_epoch);\n"
    "  RETURN '';\n"
    "END $$;\n"
    /* One round of a holder's calls: every voter, in order, an answer each. */
    "CREATE FUNCTION kmd_lease_round(p_mode text, p_ids uuid[],\n"
    "  p_dsns text[], p_token uuid, p_holder uuid, p_kind text,\n"
    "  p_subject uuid, p_epoch bigint, p_ttl float8, p_progress text)\n"
    "  RETURNS TABLE (node uuid, answer text) LANGUAGE plpgsql AS $$\n"
    "DECLARE q text; i int; a text;\n"
    "BEGIN\n"
    "  IF p_mode = 'release' THEN\n"
    "    q := format('SELECT kmd_lease_release(%L, %s)', p_token, p_epoch);\n"
    "  ELSIF p_mode = 'renew' THEN\n"
    "    q := format('SELECT kmd_lease_renew(%L, %s, %L)', p_token, p_ttl,\n"
    "      p_progress);\n"
    "  ELSE\n"
    "    q := format('SELECT kmd_lease_take(%L, %L, %L, %L, %s, %s, %L)',\n"
    "      p_token, p_holder, p_kind, p_subject, p_epoch, p_ttl,\n"
    "      p_progress);\n"
    "  END IF;\n"
    "  FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP\n"
    "    BEGIN\n"
    "      SELECT t.a INTO a FROM dblink(p_dsns[i], q) AS t(a text);\n"
    "    EXCEPTION WHEN OTHERS THEN\n"
    "      a := 'unreachable: ' || split_part(SQLERRM, E'\\n', 1);\n"
    "    END;\n"
    "    node := p_ids[i];\n"
    "    answer := coalesce(a, 'unreachable: no answer');\n"
    "    RETURN NEXT;\n"
    "  END LOOP;\n"
    "END $$;\n"
    /*
     * A join's steps on its sponsor, each under the join's lease: the
     * registration (a recorded node: pending and not expired, killed
     * before, or left joining by an attempt that died: the lease says it
     * is over), each stage, and ready, which moves the epoch on.  Stage
     * and ready change only a join under way: never one the reaper killed.
     */
    "CREATE FUNCTION kmd_join_register(p_token uuid, p_node uuid,\n"
    "  p_host text, p_pubaddr text, p_version text, p_cert text,\n"
    "  p_rot text) RETURNS text LANGUAGE plpgsql AS $$\n"
    "DECLARE s text;\n"
    "BEGIN\n"
    "  PERFORM kmd_lease_check(p_token);\n"
    "  SELECT state INTO s FROM kmd_nodes WHERE node_id = p_node\n"
    "    FOR UPDATE;\n"
    "  IF NOT FOUND THEN\n"
    "    RAISE EXCEPTION 'node % is not recorded on the member: its'\n"
    "      ' credentials were not issued by this cluster, or revoked',\n"
    "      p_node;\n"
    "  END IF;\n"
    "  IF s = '" NS_C_PENDING "' AND (SELECT expires <= now() FROM\n"
    "      kmd_nodes WHERE node_id = p_node) THEN\n"
    "    RAISE EXCEPTION 'the credentials of node % expired: run cluster'\n"
    "      ' csr and nodes create again', p_node;\n"
    "  END IF;\n"
    "  IF s NOT IN ('" NS_C_PENDING "', '" NS_C_KILLED "') AND\n"
    "      s NOT IN " NS_SQL_JOINING " THEN\n"
    "    RAISE EXCEPTION 'node % is % on the member: it cannot join with'\n"
    "      ' these credentials; run cluster csr and nodes create again',\n"
    "      p_node, s;\n"
    "  END IF;\n"
    "  INSERT INTO kmd_nodes (node_id, host, port, public_address, state,\n"
    "    version, cert, rot, sponsor) VALUES (p_node, p_host, 5432,\n"
    "    p_pubaddr, '" NS_C_CREATING "', p_version, p_cert, p_rot,\n"
    "    (SELECT node_id FROM kmd_local)) ON CONFLICT (node_id) DO UPDATE\n"
    "    SET state = '" NS_C_CREATING "', host = EXCLUDED.host,\n"
    "    public_address = EXCLUDED.public_address, version =\n"
    "    EXCLUDED.version, cert = EXCLUDED.cert, rot = EXCLUDED.rot,\n"
    "    sponsor = EXCLUDED.sponsor, join_error = NULL, expires = NULL;\n"
    "  RETURN '';\n"
    "END $$;\n"
    "CREATE FUNCTION kmd_join_stage(p_token uuid, p_node uuid,\n"
    "  p_state text) RETURNS text LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  PERFORM kmd_lease_check(p_token);\n"
    "  UPDATE kmd_nodes SET state = p_state WHERE node_id = p_node AND\n"
    "    state IN " NS_SQL_JOINING ";\n"
    "  IF NOT FOUND THEN\n"
    "    RAISE EXCEPTION 'the join of node % was ended on the member',\n"
    "      p_node;\n"
    "  END IF;\n"
    "  RETURN '';\n"
    "END $$;\n"
    "CREATE FUNCTION kmd_join_ready(p_token uuid, p_node uuid,\n"
    "  p_epoch bigint) RETURNS text LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  PERFORM kmd_lease_commit(p_token, p_epoch);\n"
    "  UPDATE kmd_nodes SET state = '" NS_C_READY "', joined_at = now()\n"
    "    WHERE node_id = p_node AND state IN " NS_SQL_JOINING ";\n"
    "  IF NOT FOUND THEN\n"
    "    RAISE EXCEPTION 'the join of node % was ended on the member',\n"
    "      p_node;\n"
    "  END IF;\n"
    "  DELETE FROM kmd_join_markers WHERE join_id = p_node;\n"
    "  RETURN '';\n"
    "END $$;\n"
    /*
     * On a sponsor: the joins it sponsors whose lease here has lapsed
     * (their node died or was cut off), or whose renewals have carried
     * the same progress for p_stall seconds (a stalled join whose node
     * failed to end it), are killed, here and only here, as their ready
     * is decided (PEER_READY): under the lease's lock.  A stalled join's
     * grant here goes with it: its next step on this member fails.
     */
    "CREATE FUNCTION kmd_join_reap(p_stall float8) RETURNS SETOF uuid\n"
    "  LANGUAGE plpgsql AS $$\n"
    "DECLARE t timestamptz;\n"
    "BEGIN\n"
    "  LOCK TABLE kmd_lease IN SHARE ROW EXCLUSIVE MODE;\n"
    "  t := clock_timestamp();\n"
    "  RETURN QUERY WITH j AS (SELECT n.node_id, s.expires, s.progress,\n"
    "    s.progress_at FROM kmd_nodes n JOIN kmd_local l ON n.sponsor =\n"
    "    l.node_id LEFT JOIN kmd_lease s ON s.kind = 'join' AND\n"
    "    s.subject = n.node_id WHERE n.state IN " NS_SQL_JOINING "),\n"
    "  dead AS (SELECT node_id, CASE WHEN expires IS NULL OR expires <= t\n"
    "    THEN 'the join stopped renewing its lease: its node died,'\n"
    "    ' stopped or was cut off' ELSE format('the join made no progress'\n"
    "    ' for %s s (at: %s)', round(extract(epoch FROM t -\n"
    "    progress_at)), coalesce(progress, 'its start')) END AS why\n"
    "    FROM j WHERE expires IS NULL OR expires <= t OR progress_at <\n"
    "    t - p_stall * interval '1 second'),\n"
    "  gone AS (DELETE FROM kmd_lease s USING dead d WHERE s.kind =\n"
    "    'join' AND s.subject = d.node_id)\n"
    "  UPDATE kmd_nodes n SET state = '" NS_C_KILLED "', join_error =\n"
    "    d.why FROM dead d WHERE n.node_id = d.node_id RETURNING\n"
    "    n.node_id;\n"
    "END $$;\n";

/*
 * Run at every start, once the schema is current.  pglogical's install
 * script leaves EXECUTE on its functions, and USAGE on its schema, to
 * PUBLIC: a role of no privilege could call replicate_ddl_command() or
 * create_subscription(), whose effects run as a superuser (pglogical's
 * apply) on every node.  No role of kmd's needs them but superusers;
 * replmon reads through kmd_subs().  Again at every start: an extension
 * update would grant them back.
 */
const char schema_start_sql[] =
    "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pglogical FROM PUBLIC;\n"
    "REVOKE ALL ON SCHEMA pglogical FROM PUBLIC;\n";

const struct migration schema_migrations[] = {
	{ 1, v1 },
	{ 2, v2 },
	{ 3, v3 },
	{ 4, v4 },
	{ 5, v5 },
	{ 6, v6 },
	{ 7, v7 },
	{ 8, v8 },
	{ 9, v9 },
	{ 10, v10 },
};
const size_t schema_nmigrations =
    sizeof(schema_migrations) / sizeof(schema_migrations[0]);

int
schema_latest(void)
{
	return schema_migrations[schema_nmigrations - 1].version;
}

/*
 * Steps to apply to a database at version `current`: returns how many
 * and sets *first to the first of them; -1 when the database is newer
 * than this kmd knows.
 */
int
schema_pending(int current, const struct migration **first)
{
	size_t	 i;

	*first = NULL;
	if (current > schema_latest() || current < 0)
		return -1;
	for (i = 0; i < schema_nmigrations; i++)
		if (schema_migrations[i].version > current) {
			*first = &schema_migrations[i];
			return (int)(schema_nmigrations - i);
		}
	return 0;
}

/* One step as one transaction that also records its version. */
int
schema_step_sql(const struct migration *m, char *buf, size_t len)
{
	int	 n;

	n = snprintf(buf, len, "BEGIN;\n%s"
	    "UPDATE kmd_schema SET version = %d;\n"
	    "COMMIT;\n", m->sql, m->version);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}
