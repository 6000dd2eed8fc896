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
 * Join: peers (a certificate of the cluster CA whose CN is a recorded
 * node's id, see pg_ident.conf) log in as kmd_repl, no superuser (v11
 * has what it may do).  dblink carries the joiner's queries to a member
 * through this node's PostgreSQL, which holds the TLS key: the joiner
 * never does.  Markers prove a join caught up.
 */
static const char v3[] =
    "CREATE EXTENSION IF NOT EXISTS dblink;\n"
    "DO $$ BEGIN\n"
    "  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kmd_repl')\n"
    "  THEN CREATE ROLE kmd_repl LOGIN REPLICATION; END IF;\n"
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
 * A node's status as the cluster sees it: its state unless ready, else
 * what this node and the nodes it sees ready report of it (those codes
 * of theirs that count: CODES), "x" where they differ.
 */
#define NODE_STATUS_VIEW(codes) \
	"  WITH me AS (SELECT node_id FROM kmd_local),\n" \
	"  mine AS (SELECT h.peer, h.view #>> '{nodeInfo,status,code}' AS code\n" \
	"    FROM kmd_node_health h JOIN me ON h.reporter = me.node_id),\n" \
	"  trusted AS (SELECT node_id AS r FROM me\n" \
	"    UNION SELECT peer FROM mine WHERE code = 'r'),\n" \
	"  views AS (SELECT h.peer, h.view #>> '{nodeInfo,status,code}' AS code\n" \
	"    FROM kmd_node_health h JOIN trusted t ON t.r = h.reporter\n" \
	"    WHERE h.view #>> '{nodeInfo,status,code}' IN " codes "\n" \
	"    UNION ALL SELECT node_id, 'r' FROM me)\n" \
	"  SELECT n.node_id, CASE WHEN n.state <> 'r' THEN n.state ELSE\n" \
	"    (SELECT CASE count(DISTINCT v.code) WHEN 0 THEN n.state\n" \
	"      WHEN 1 THEN min(v.code) ELSE 'x' END\n" \
	"      FROM views v WHERE v.peer = n.node_id) END AS code\n" \
	"  FROM kmd_nodes n;\n"

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
    NODE_STATUS_VIEW("('r', 'd')")
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
    "DECLARE dsn text; r text;\n"
    "BEGIN\n"
    "  SELECT i.if_dsn INTO dsn\n"
    "    FROM pglogical.subscription s JOIN pglogical.node_interface i\n"
    "    ON i.if_id = s.sub_origin_if WHERE s.sub_name = p_sub;\n"
    "  IF NOT FOUND THEN RETURN true; END IF;\n"
    "  SELECT t.v INTO r FROM dblink(dsn, 'SELECT kmd_peer_drained()')\n"
    "    AS t(v text);\n"
    "  RETURN r <> 'behind';\n"
    "EXCEPTION WHEN OTHERS THEN\n"
    "  RETURN false;\n"
    "END $$;\n";

/*
 * API users' roles (enum op_role, by name): what each may do is the
 * operation catalogue's (common/ops.h).  Users from before were admins.
 */
static const char v12[] =
    "ALTER TABLE kmd_users ADD COLUMN role text NOT NULL DEFAULT 'admin'\n"
    "  CHECK (role IN ('admin', 'keys', 'viewer'));\n";

/*
 * Backups and backup keys: node-local, never replicated (the reference
 * lists both among what is not clustered).  A backup key is kept sealed
 * under this node's root of trust; exported says when a copy of it
 * last left the node (services reset warns about one never exported).
 * A backup's row names its file under <datadir>/backups.  A restore on
 * a node in no cluster keeps the backup's KEK in kmd_restored_kek, under
 * the root of trust, for the cluster new to come to take.
 */
static const char v15[] =
    "CREATE TABLE kmd_backup_keys (\n"
    "  key_id uuid PRIMARY KEY,\n"
    "  description text NOT NULL DEFAULT '',\n"
    "  origin text NOT NULL CHECK (origin IN ('made', 'imported')),\n"
    "  key_sealed bytea NOT NULL,\n"
    "  is_default boolean NOT NULL DEFAULT false,\n"
    "  created timestamptz NOT NULL DEFAULT now(),\n"
    "  exported timestamptz);\n"
    "CREATE UNIQUE INDEX kmd_backup_keys_default ON kmd_backup_keys\n"
    "  (is_default) WHERE is_default;\n"
    "CREATE TABLE kmd_backups (\n"
    "  backup_id uuid PRIMARY KEY,\n"
    "  description text NOT NULL DEFAULT '',\n"
    "  backup_key uuid NOT NULL,\n"
    "  origin text NOT NULL CHECK (origin IN ('made', 'uploaded',\n"
    "    'found')),\n"
    "  made_on uuid,\n"
    "  kmd_version text NOT NULL,\n"
    "  schema_version int NOT NULL,\n"
    "  size bigint NOT NULL,\n"
    "  keys bigint NOT NULL,\n"
    "  users bigint NOT NULL,\n"
    "  created timestamptz NOT NULL);\n"
    "CREATE TABLE kmd_restored_kek (\n"
    "  one boolean PRIMARY KEY DEFAULT true CHECK (one),\n"
    "  kek_wrapped bytea NOT NULL,\n"
    "  backup_id uuid NOT NULL,\n"
    "  restored timestamptz NOT NULL DEFAULT now());\n";

/*
 * kmd_keys_notify() as steps 16 and 17 define it: step 17 adds one case
 * between the two (a first version of a name notifies nothing).
 */
#define KEYS_NOTIFY_HEAD \
	"CREATE OR REPLACE FUNCTION kmd_keys_notify() RETURNS trigger\n" \
	"  LANGUAGE plpgsql AS $$\n" \
	"DECLARE n text := current_setting('kmd.keys_notified', true);\n" \
	"BEGIN\n" \
	"  IF TG_LEVEL = 'STATEMENT' THEN\n" \
	"    PERFORM pg_notify('kmd_keys', '*');\n" \
	"    RETURN NULL;\n" \
	"  ELSIF n = 'all' THEN\n" \
	"    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;\n"
#define KEYS_NOTIFY_TAIL \
	"  ELSIF coalesce(nullif(n, '')::int, 0) >= 64 THEN\n" \
	"    PERFORM pg_notify('kmd_keys', '*');\n" \
	"    PERFORM set_config('kmd.keys_notified', 'all', true);\n" \
	"    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;\n" \
	"  END IF;\n" \
	"  PERFORM set_config('kmd.keys_notified',\n" \
	"    (coalesce(nullif(n, '')::int, 0) + 1)::text, true);\n" \
	"  IF TG_OP = 'DELETE' THEN\n" \
	"    PERFORM pg_notify('kmd_keys', '-' || OLD.name);\n" \
	"    RETURN OLD;\n" \
	"  END IF;\n" \
	"  PERFORM pg_notify('kmd_keys', CASE WHEN NEW.version > 0 THEN '-'\n" \
	"    ELSE '' END || NEW.name);\n" \
	"  IF TG_OP = 'UPDATE' AND OLD.name <> NEW.name THEN\n" \
	"    PERFORM pg_notify('kmd_keys', OLD.name);\n" \
	"  END IF;\n" \
	"  RETURN NEW;\n" \
	"END $$;\n"

/*
 * cluster verify (workers/joiner/verify.c): a node's marker, whose
 * arrival on another node says every change this node committed before
 * it has arrived there too (each node subscribes to every other
 * directly, and pglogical applies a node's changes in its commit order).
 * A verify's markers sit in kmd_join_markers under an id derived from
 * the verify's token, so that no caller can choose it to stand for a
 * join's (a join's markers are under the joining node's id).  Marking
 * also clears this node's markers of no node older than an hour: those
 * of a verify or a finish that died.
 */
static const char v16[] =
    "CREATE OR REPLACE FUNCTION kmd_verify_id(p_token uuid) RETURNS uuid\n"
    "  LANGUAGE sql IMMUTABLE\n"
    "  AS $$ SELECT md5('kmd-verify:' || p_token::text)::uuid $$;\n"
    /* PEER_VERIFY_MARK: the marker added (p_add) or taken back */
    "CREATE OR REPLACE FUNCTION kmd_peer_verify_mark(p_token uuid,\n"
    "  p_add boolean) RETURNS text LANGUAGE plpgsql SECURITY DEFINER\n"
    "  SET search_path = pg_catalog, public AS $$\n"
    "BEGIN\n"
    "  IF NOT p_add THEN\n"
    "    DELETE FROM kmd_join_markers WHERE join_id =\n"
    "      kmd_verify_id(p_token) AND origin = kmd_me();\n"
    "    RETURN '';\n"
    "  END IF;\n"
    "  DELETE FROM kmd_join_markers m WHERE m.origin = kmd_me() AND\n"
    "    m.made < now() - interval '1 hour' AND NOT EXISTS (SELECT FROM\n"
    "    kmd_nodes n WHERE n.node_id = m.join_id);\n"
    "  INSERT INTO kmd_join_markers (join_id, origin) VALUES\n"
    "    (kmd_verify_id(p_token), kmd_me()) ON CONFLICT DO NOTHING;\n"
    "  RETURN '';\n"
    "END $$;\n"
    /* PEER_VERIFY_MARKS: the other nodes' markers of that verify here */
    "CREATE OR REPLACE FUNCTION kmd_peer_verify_marks(p_token uuid)\n"
    "  RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER\n"
    "  SET search_path = pg_catalog, public AS $$\n"
    "  SELECT count(*) FROM kmd_join_markers WHERE join_id =\n"
    "    kmd_verify_id(p_token) AND origin <> kmd_me() $$;\n"
    "REVOKE ALL ON FUNCTION kmd_peer_verify_mark(uuid, boolean),\n"
    "  kmd_peer_verify_marks(uuid) FROM PUBLIC;\n"
    "GRANT EXECUTE ON FUNCTION kmd_peer_verify_mark(uuid, boolean),\n"
    "  kmd_peer_verify_marks(uuid) TO kmd_repl;\n"
    /*
     * The joiner answers key lookups from memory (keycache.c): a change
     * to a key, made here or applied from another node (ENABLE ALWAYS:
     * pglogical's apply runs as a replica), notifies channel kmd_keys
     * with the key's name at commit, '-' first for a delete or a rotate
     * (the hsm then forgets the material it keeps); a truncation, or a
     * change of this node's KEK or membership (kmd_local), with '*'; so
     * does a transaction past its 64th changed row, once, and then no
     * more (a large load sends no million notifications).  A join's copy
     * and a restore turn the row trigger off, and on again with the
     * keys' indexes (workers/joiner/join.h).  BEFORE triggers:
     * pglogical 2.4's apply leaves a relcache reference open for AFTER
     * row triggers (v4).
     */
    KEYS_NOTIFY_HEAD
    KEYS_NOTIFY_TAIL
    "DROP TRIGGER IF EXISTS kmd_keys_notify ON kmd_keys;\n"
    "CREATE TRIGGER kmd_keys_notify BEFORE INSERT OR UPDATE OR DELETE ON\n"
    "  kmd_keys FOR EACH ROW EXECUTE FUNCTION kmd_keys_notify();\n"
    "ALTER TABLE kmd_keys ENABLE ALWAYS TRIGGER kmd_keys_notify;\n"
    "DROP TRIGGER IF EXISTS kmd_keys_truncated ON kmd_keys;\n"
    "CREATE TRIGGER kmd_keys_truncated BEFORE TRUNCATE ON kmd_keys\n"
    "  FOR EACH STATEMENT EXECUTE FUNCTION kmd_keys_notify();\n"
    "ALTER TABLE kmd_keys ENABLE ALWAYS TRIGGER kmd_keys_truncated;\n"
    "DROP TRIGGER IF EXISTS kmd_local_notify ON kmd_local;\n"
    "CREATE TRIGGER kmd_local_notify BEFORE INSERT OR UPDATE OR DELETE OR\n"
    "  TRUNCATE ON kmd_local FOR EACH STATEMENT EXECUTE FUNCTION\n"
    "  kmd_keys_notify();\n";

/*
 * Run at every start, once the schema is current.  pglogical's install
 * script leaves EXECUTE on its functions, and USAGE on its schema, to
 * PUBLIC: a role of no privilege could call replicate_ddl_command() or
 * create_subscription(), whose effects run as a superuser (pglogical's
 * apply) on every node.  No role of kmd's needs them but superusers;
 * replmon reads through kmd_subs(); a peer (kmd_repl) gets what
 * pglogical's provider side asks of it (v11).  dblink's functions too go
 * from PUBLIC: a peer could reach out from this node with them.  Again
 * at every start: an extension update would grant them back.
 */
const char schema_start_sql[] =
    "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pglogical FROM PUBLIC;\n"
    "REVOKE ALL ON SCHEMA pglogical FROM PUBLIC;\n"
    "GRANT USAGE ON SCHEMA pglogical TO kmd_repl;\n"
    "GRANT EXECUTE ON FUNCTION pglogical.pglogical_node_info(),\n"
    "  pglogical.show_repset_table_info(regclass, text[]) TO kmd_repl;\n"
    "GRANT SELECT ON pglogical.tables TO kmd_repl;\n"
    "DO $$ BEGIN EXECUTE 'GRANT SELECT ON ' || array_to_string("
    REPLICATED ", ', ') || ' TO kmd_repl'; END $$;\n"
    "DO $$ DECLARE f regprocedure; BEGIN FOR f IN SELECT d.objid FROM\n"
    "  pg_depend d JOIN pg_extension e ON d.refobjid = e.oid WHERE\n"
    "  e.extname = 'dblink' AND d.classid = 'pg_proc'::regclass AND\n"
    "  d.deptype = 'e' LOOP\n"
    "  EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);\n"
    "END LOOP; END $$;\n";

/*
 * The heartbeat of its own.  Every fifth of "replmon down-after" the
 * replmon of a ready node calls kmd_beat(): it stamps this node's row in
 * kmd_join_markers, under an id derived from the node's (no join's or
 * verify's), with its clock, committed without waiting for the disk (a
 * lost beat is only a beat), and answers how long ago each peer was last
 * heard from.  One small row a node, where the health rows a tick writes
 * grow with the square of the cluster's size.  Where the row comes in
 * through replication, a REPLICA trigger notes its arrival in
 * kmd_peer_seen, as v4's does for the health row; beat says the peer
 * beats, so its silence is measured against down-after itself (a peer of
 * an older kmd is heard from only every tick).  A removed node's row
 * goes with the next beat.
 */
static const char v17[] =
    "ALTER TABLE kmd_peer_seen ADD COLUMN IF NOT EXISTS beat boolean\n"
    "  NOT NULL DEFAULT false;\n"
    "CREATE OR REPLACE FUNCTION kmd_beat_id(p_node uuid) RETURNS uuid\n"
    "  LANGUAGE sql IMMUTABLE\n"
    "  AS $$ SELECT md5('kmd-beat:' || p_node::text)::uuid $$;\n"
    "CREATE OR REPLACE FUNCTION kmd_beat_seen() RETURNS trigger\n"
    "  LANGUAGE plpgsql AS $$ BEGIN\n"
    "  INSERT INTO kmd_peer_seen VALUES (NEW.origin, NEW.made,\n"
    "    clock_timestamp(), true) ON CONFLICT (peer) DO UPDATE SET\n"
    "    peer_clock = EXCLUDED.peer_clock, seen = EXCLUDED.seen,\n"
    "    beat = true;\n"
    "  RETURN NEW;\n"
    "END $$;\n"
    "DROP TRIGGER IF EXISTS kmd_beat ON kmd_join_markers;\n"
    "CREATE TRIGGER kmd_beat BEFORE INSERT OR UPDATE ON kmd_join_markers\n"
    "  FOR EACH ROW WHEN (NEW.join_id = kmd_beat_id(NEW.origin))\n"
    "  EXECUTE FUNCTION kmd_beat_seen();\n"
    "ALTER TABLE kmd_join_markers ENABLE REPLICA TRIGGER kmd_beat;\n"
    "CREATE OR REPLACE FUNCTION kmd_beat() RETURNS TABLE (peer uuid,\n"
    "  silent_ms bigint) LANGUAGE plpgsql SECURITY DEFINER\n"
    "  SET search_path = pg_catalog, public AS $$\n"
    "BEGIN\n"
    "  IF EXISTS (SELECT FROM kmd_local l JOIN kmd_nodes n ON n.node_id =\n"
    "      l.node_id WHERE l.join_state IS NULL AND n.state = '"
    NS_C_READY "') THEN\n"
    "    PERFORM set_config('synchronous_commit', 'off', true);\n"
    "    INSERT INTO kmd_join_markers (join_id, origin, made) VALUES\n"
    "      (kmd_beat_id(kmd_me()), kmd_me(), clock_timestamp())\n"
    "      ON CONFLICT (join_id, origin) DO UPDATE SET made =\n"
    "      EXCLUDED.made;\n"
    "    DELETE FROM kmd_join_markers m WHERE m.join_id =\n"
    "      kmd_beat_id(m.origin) AND NOT EXISTS (SELECT FROM kmd_nodes n\n"
    "      WHERE n.node_id = m.origin AND n.state <> '" NS_C_REMOVED "');\n"
    "  END IF;\n"
    "  RETURN QUERY SELECT s.peer, (extract(epoch FROM clock_timestamp() -\n"
    "    s.seen) * 1000)::bigint FROM kmd_peer_seen s WHERE s.beat;\n"
    "END $$;\n"
    "REVOKE ALL ON FUNCTION kmd_beat() FROM PUBLIC;\n"
    "GRANT EXECUTE ON FUNCTION kmd_beat() TO kmd_replmon;\n"
    /*
     * What a key's cache entries need to hear of is a delete, an update,
     * and a new version of a name that has versions here (a rotate): a
     * key's first version (0) cannot be in any cache here, nor a version
     * of a name no row here has, and they notify nothing.  A
     * notification is what a writer pays for most: PostgreSQL takes one
     * lock for every notifying transaction of the instance and holds it
     * through the commit's WAL flush, so one notification a created key
     * serialized every commit, pglogical's applies included (3 x 1,000
     * creates a second fell 15 s behind); version 0 fires no trigger at
     * all (the WHEN), so creates pay nothing.  Of two first versions of
     * one name made at once on two nodes, a node may keep using the one
     * it had until its cache entry ends (keycache.c: 10 s); what either
     * encrypted decrypts everywhere meanwhile.
     */
    KEYS_NOTIFY_HEAD
    "  ELSIF TG_OP = 'INSERT' AND NOT EXISTS (SELECT FROM kmd_keys k\n"
    "      WHERE k.name = NEW.name) THEN\n"
    "    RETURN NEW;\n"
    KEYS_NOTIFY_TAIL
    "DROP TRIGGER IF EXISTS kmd_keys_notify ON kmd_keys;\n"
    "CREATE TRIGGER kmd_keys_notify BEFORE UPDATE OR DELETE ON kmd_keys\n"
    "  FOR EACH ROW EXECUTE FUNCTION kmd_keys_notify();\n"
    "ALTER TABLE kmd_keys ENABLE ALWAYS TRIGGER kmd_keys_notify;\n"
    "DROP TRIGGER IF EXISTS kmd_keys_notify_new ON kmd_keys;\n"
    "CREATE TRIGGER kmd_keys_notify_new BEFORE INSERT ON kmd_keys\n"
    "  FOR EACH ROW WHEN (NEW.version > 0)\n"
    "  EXECUTE FUNCTION kmd_keys_notify();\n"
    "ALTER TABLE kmd_keys ENABLE ALWAYS TRIGGER kmd_keys_notify_new;\n";

/*
 * A peer whose replication slot here PostgreSQL let go (replmon's status
 * "lost") counts in the nodes' status as down does: a reporter's "l" is
 * taken, not passed over as a ready one would be.
 */
static const char v18[] =
    "CREATE OR REPLACE VIEW kmd_node_status AS\n"
    NODE_STATUS_VIEW("('r', 'd', '" NS_C_LOST "')");

#ifdef KMD_NEXT
/*
 * make next: this source as the release after it, one step on, whose
 * step changes replicated tables (a column and an index of kmd_keys).
 * Every name qualified: pglogical runs a queued DDL with an empty
 * search_path.  Idempotent, as every step.
 */
static const char next_v19[] =
    "ALTER TABLE public.kmd_keys ADD COLUMN IF NOT EXISTS description text;\n"
    "CREATE INDEX IF NOT EXISTS kmd_keys_description ON public.kmd_keys\n"
    "  (description);\n";
#endif

const struct migration schema_migrations[] = {
	{ 1, v1, NULL },
	{ 2, v2, NULL },
	{ 3, v3, NULL },
	{ 4, v4, NULL },
	{ 5, v5, NULL },
	{ 6, v6, NULL },
	{ 7, v7, NULL },
	{ 8, v8, NULL },
	{ 9, v9, NULL },
	{ 10, schema_v10, NULL },
	{ 11, schema_v11, NULL },
	{ 12, v12, NULL },
	{ 13, schema_v13, NULL },
	{ 14, schema_v14, NULL },
	{ 15, v15, NULL },
	{ 16, v16, NULL },
	{ 17, v17, NULL },
	{ 18, v18, NULL },
#ifdef KMD_NEXT
	{ 19, "", next_v19 },
#endif
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

/*
 * One step as one transaction that also records its version; with
 * local_only, its node-local part alone, the version left as it is.
 */
int
schema_step_sql(const struct migration *m, int local_only, char *buf,
    size_t len)
{
	int	 n;

	if (local_only)
		n = snprintf(buf, len, "BEGIN;\n%sCOMMIT;\n", m->sql);
	else
		n = snprintf(buf, len, "BEGIN;\n%s%s"
		    "UPDATE kmd_schema SET version = %d;\n"
		    "COMMIT;\n", m->sql, m->cluster != NULL ? m->cluster : "",
		    m->version);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/*
 * What the joiner does at start with a database at schema db, on a node
 * of a cluster whose committed schema is committed (-1: not clustered)
 * with others other nodes (workers/joiner/migrate.c says why).  With
 * SCHEMA_REFUSE, why says what to run instead.
 */
int
schema_plan(int db, int committed, int others, char *why, size_t len)
{
	int	 l = schema_latest();

	if (db > l) {
		snprintf(why, len, "this node's database is at schema %d,"
		    " newer than this kmd knows (%d): run the kmd this node"
		    " ran before (or a newer one)", db, l);
		return SCHEMA_REFUSE;
	}
	if (committed == -1 || others == 0)
		return SCHEMA_WHOLE;
	if (committed > l) {
		snprintf(why, len, "the cluster is at schema %d, newer than"
		    " this kmd knows (%d): run a kmd of schema %d here",
		    committed, l, committed);
		return SCHEMA_REFUSE;
	}
	if (l > committed + 1) {
		snprintf(why, len, "this kmd knows schema %d, two or more"
		    " steps past the cluster's %d: upgrade one step at a"
		    " time: run a kmd of schema %d on every node, then kmctl"
		    " cluster upgrade finish, then the next", l, committed,
		    committed + 1);
		return SCHEMA_REFUSE;
	}
	return l == committed + 1 ? SCHEMA_WINDOW : SCHEMA_WHOLE;
}
