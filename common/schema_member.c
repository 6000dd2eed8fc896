/*
 * The schema's steps for membership: the lease that serializes changes,
 * a join's steps on its sponsor, and what a peer may call here.
 */
#include "nodestatus.h"
#include "schema.h"

/*
 * kmd_lease_round()'s signature after its first argument, and the call
 * a round makes on each voter (v10, and v13's kept connections).
 */
#define LEASE_ROUND_SIG \
    "  p_dsns text[], p_token uuid, p_holder uuid, p_kind text,\n" \
    "  p_subject uuid, p_epoch bigint, p_ttl float8, p_progress text)\n" \
    "  RETURNS TABLE (node uuid, answer text) LANGUAGE plpgsql AS $$\n"
#define LEASE_ROUND_QUERY \
    "  IF p_mode = 'release' THEN\n" \
    "    q := format('SELECT kmd_lease_release(%L, %s)', p_token, p_epoch);\n" \
    "  ELSIF p_mode = 'renew' THEN\n" \
    "    q := format('SELECT kmd_lease_renew(%L, %s, %L)', p_token, p_ttl,\n" \
    "      p_progress);\n" \
    "  ELSE\n" \
    "    q := format('SELECT kmd_lease_take(%L, %L, %L, %L, %s, %s, %L)',\n" \
    "      p_token, p_holder, p_kind, p_subject, p_epoch, p_ttl,\n" \
    "      p_progress);\n" \
    "  END IF;\n"

/*
 * PEER_READ_MEMBER's body around the member's version (v11 and v14): the
 * member's checks, for the calling node.
 */
#define PEER_MEMBER_HEAD \
    "  LANGUAGE plpgsql STABLE SECURITY DEFINER\n" \
    "  SET search_path = pg_catalog, public AS $$\n" \
    "DECLARE c uuid := kmd_peer();\n" \
    "BEGIN\n"
#define PEER_MEMBER_REST \
    "    (SELECT version FROM kmd_schema)::text,\n" \
    "    extract(epoch FROM clock_timestamp())::float8,\n" \
    "    (SELECT count(*) FROM kmd_nodes n WHERE n.state NOT IN ('" \
    NS_C_REMOVING "', '" NS_C_REMOVED "', '" NS_C_KILLED "') AND\n" \
    "      n.node_id <> c),\n" \
    "    (SELECT count(*) FROM kmd_nodes n WHERE n.state IN " \
    NS_SQL_JOINING " AND n.node_id <> c),\n" \
    "    l.node_id::text, pg_database_size('kmd'),\n" \
    "    (SELECT n.state FROM kmd_nodes n WHERE n.node_id = l.node_id),\n" \
    "    (SELECT count(*) FROM kmd_nodes n WHERE n.rot = 'hsm' AND\n" \
    "      n.state <> '" NS_C_REMOVED "')\n" \
    "  FROM kmd_cluster k JOIN kmd_local l USING (cluster_id);\n" \
    "END $$;\n"

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
const char schema_v10[] =
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
     * The node whose certificate the session logged in with (NULL over
     * the local socket: this node's kmd).  Whether the session may act
     * for the node p_holder: over TLS only with that node's certificate
     * (a peer's stolen certificate cannot take or keep another node's
     * grant); over the local socket, this node's kmd.
     */
    "CREATE FUNCTION kmd_caller() RETURNS uuid LANGUAGE sql STABLE\n"
    "  SET search_path = pg_catalog AS $$\n"
    "  SELECT CASE WHEN s.ssl THEN coalesce(substring(s.client_dn FROM\n"
    "    '/CN=([0-9a-f-]{36})(/|$)'),\n"
    "    '00000000-0000-0000-0000-000000000000')::uuid END\n"
    "  FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid() $$;\n"
    "CREATE FUNCTION kmd_lease_caller(p_holder uuid) RETURNS boolean\n"
    "  LANGUAGE sql STABLE AS $$\n"
    "  SELECT coalesce(kmd_caller() = p_holder, true) $$;\n"
    /* '' granted or renewed; otherwise why not, its first word the kind */
    "CREATE FUNCTION kmd_lease_take(p_token uuid, p_holder uuid,\n"
    "  p_kind text, p_subject uuid, p_epoch bigint, p_ttl float8,\n"
    "  p_progress text) RETURNS text LANGUAGE plpgsql SECURITY DEFINER\n"
    "  SET search_path = pg_catalog, public AS $$\n"
    "DECLARE l kmd_lease; t timestamptz; e bigint;\n"
    "BEGIN\n"
    "  IF NOT kmd_lease_caller(p_holder) THEN\n"
    "    RETURN format('refused: the caller''s certificate is not that of'\n"
    "      ' node %s, the holder it names', p_holder);\n"
    "  END IF;\n"
    /* a node not a member yet takes it for its own join only */
    "  IF kmd_caller() IS NOT NULL AND (p_kind <> 'join' OR p_subject IS\n"
    "      DISTINCT FROM p_holder) AND NOT EXISTS (SELECT FROM kmd_nodes\n"
    "      WHERE node_id = p_holder AND state = '" NS_C_READY "') THEN\n"
    "    RETURN format('refused: node %s is no member; it may take the'\n"
    "      ' lease for its own join only', p_holder);\n"
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
    "  p_progress text) RETURNS text LANGUAGE plpgsql SECURITY DEFINER\n"
    "  SET search_path = pg_catalog, public AS $$\n"
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
    "    expires > clock_timestamp() AND kmd_lease_caller(holder)\n"
    "    FOR SHARE;\n"
    "  IF NOT FOUND THEN\n"
    "    RAISE EXCEPTION 'this membership change no longer holds its lease'\n"
    "      ' on this member' USING ERRCODE = 'lock_not_available';\n"
    "  END IF;\n"
    "  RETURN true;\n"
    "END $$;\n"
    /*
     * A change's step that moves the epoch on, under its lease: by one,
     * from the epoch the lease was granted at.
     */
    "CREATE FUNCTION kmd_lease_commit(p_token uuid, p_epoch bigint)\n"
    "  RETURNS bigint LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  PERFORM kmd_lease_check(p_token);\n"
    "  IF NOT EXISTS (SELECT FROM kmd_lease WHERE token = p_token AND\n"
    "      epoch + 1 = p_epoch) THEN\n"
    "    RAISE EXCEPTION 'a membership change moves the epoch on by one,'\n"
    "      ' not to %', p_epoch USING ERRCODE = 'invalid_parameter_value';\n"
    "  END IF;\n"
    "  UPDATE kmd_cluster SET epoch = greatest(epoch, p_epoch);\n"
    "  RETURN p_epoch;\n"
    "END $$;\n"
    /*
     * A grant given back by its holder.  The epoch it tells is taken from
     * the holder, or a ready member, and only one change ahead: a pending
     * node's certificate cannot push this member's epoch out of reach.
     */
    "CREATE FUNCTION kmd_lease_release(p_token uuid, p_epoch bigint)\n"
    "  RETURNS text LANGUAGE plpgsql SECURITY DEFINER\n"
    "  SET search_path = pg_catalog, public AS $$\n"
    "BEGIN\n"
    "  DELETE FROM kmd_lease WHERE token = p_token AND\n"
    "    kmd_lease_caller(holder);\n"
    "  IF (FOUND OR kmd_caller() IS NULL OR EXISTS (SELECT FROM kmd_nodes\n"
    "      WHERE node_id = kmd_caller() AND state = '" NS_C_READY "')) AND\n"
    "      p_epoch <= kmd_epoch() + 1 THEN\n"
    "    UPDATE kmd_local SET epoch = greatest(epoch, p_epoch);\n"
    "  END IF;\n"
    "  RETURN '';\n"
    "END $$;\n"
    /* One round of a holder's calls: every voter, in order, an answer each. */
    "CREATE FUNCTION kmd_lease_round(p_mode text, p_ids uuid[],\n"
    LEASE_ROUND_SIG
    "DECLARE q text; i int; a text;\n"
    "BEGIN\n"
    LEASE_ROUND_QUERY
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
     * Each only under the lease of that node's join, from that node.
     */
    "CREATE FUNCTION kmd_join_lease(p_token uuid, p_node uuid)\n"
    "  RETURNS boolean LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  PERFORM kmd_lease_check(p_token);\n"
    "  IF NOT EXISTS (SELECT FROM kmd_lease WHERE token = p_token AND\n"
    "      kind = 'join' AND subject = p_node) THEN\n"
    "    RAISE EXCEPTION 'the membership lease on this member is not that'\n"
    "      ' of the join of node %', p_node\n"
    "      USING ERRCODE = 'insufficient_privilege';\n"
    "  END IF;\n"
    "  RETURN true;\n"
    "END $$;\n"
    "CREATE FUNCTION kmd_join_register(p_token uuid, p_node uuid,\n"
    "  p_host text, p_pubaddr text, p_version text, p_cert text,\n"
    "  p_rot text) RETURNS text LANGUAGE plpgsql SECURITY DEFINER\n"
    "  SET search_path = pg_catalog, public AS $$\n"
    "DECLARE s text;\n"
    "BEGIN\n"
    "  PERFORM kmd_join_lease(p_token, p_node);\n"
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
    "  p_state text) RETURNS text LANGUAGE plpgsql SECURITY DEFINER\n"
    "  SET search_path = pg_catalog, public AS $$\n"
    "BEGIN\n"
    "  PERFORM kmd_join_lease(p_token, p_node);\n"
    "  IF p_state NOT IN " NS_SQL_JOINING " THEN\n"
    "    RAISE EXCEPTION 'a join''s stage, not %', p_state\n"
    "      USING ERRCODE = 'invalid_parameter_value';\n"
    "  END IF;\n"
    "  UPDATE kmd_nodes SET state = p_state WHERE node_id = p_node AND\n"
    "    state IN " NS_SQL_JOINING ";\n"
    "  IF NOT FOUND THEN\n"
    "    RAISE EXCEPTION 'the join of node % was ended on the member',\n"
    "      p_node;\n"
    "  END IF;\n"
    "  RETURN '';\n"
    "END $$;\n"
    "CREATE FUNCTION kmd_join_ready(p_token uuid, p_node uuid,\n"
    "  p_epoch bigint) RETURNS text LANGUAGE plpgsql SECURITY DEFINER\n"
    "  SET search_path = pg_catalog, public AS $$\n"
    "BEGIN\n"
    "  PERFORM kmd_join_lease(p_token, p_node);\n"
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
 * What a peer may do here.  kmd_repl, the role every node certificate
 * logs in as, is no superuser.  pglogical's provider side needs of it
 * only: REPLICATION (its slots), pglogical_node_info() and
 * show_repset_table_info() with pglogical.tables (a subscription's
 * checks and its first copy), and SELECT on the replicated tables (the
 * copy); schema_start_sql grants those at every start.  Everything else
 * a peer asks of this node goes through the SECURITY DEFINER functions
 * below and in v10, owned by kmd, the bootstrap superuser that creates
 * the extensions and runs these migrations.  Each takes the calling node
 * from its certificate (kmd_peer()), acts on that node's own rows and
 * subscriptions only, builds any DSN from kmd_nodes, and takes no SQL.
 * What a peer cannot be kept from: a member's subscription to it applies
 * its stream as a superuser (pglogical's apply worker), see kmd(8).
 */
const char schema_v11[] =
    "ALTER ROLE kmd_repl NOSUPERUSER NOCREATEDB NOCREATEROLE;\n"
    "CREATE FUNCTION kmd_dsn(p_host text) RETURNS text LANGUAGE sql\n"
    "  IMMUTABLE AS $$ SELECT format('" PEER_DSN "', p_host) $$;\n"
    "CREATE FUNCTION kmd_peer() RETURNS uuid LANGUAGE plpgsql STABLE\n"
    "  SET search_path = pg_catalog, public AS $$\n"
    "DECLARE c uuid := kmd_caller();\n"
    "BEGIN\n"
    "  IF c IS NULL THEN\n"
    "    RAISE EXCEPTION 'a call between nodes comes over TLS with a'\n"
    "      ' node''s certificate' USING ERRCODE = 'insufficient_privilege';\n"
    "  END IF;\n"
    "  RETURN c;\n"
    "END $$;\n"
    "CREATE FUNCTION kmd_me() RETURNS uuid LANGUAGE sql STABLE\n"
    "  AS $$ SELECT node_id FROM kmd_local $$;\n"
    /* PEER_VOTERS, and the holder's own (lease.h) */
    "CREATE FUNCTION kmd_voters() RETURNS TABLE (id text, host text,\n"
    "  epoch bigint, me text) LANGUAGE sql STABLE SECURITY DEFINER\n"
    "  SET search_path = pg_catalog, public AS $$\n"
    "  SELECT node_id::text, host, coalesce((SELECT max(epoch) FROM\n"
    "    kmd_cluster), 0), kmd_me()::text FROM kmd_nodes\n"
    "  WHERE state = '" NS_C_READY "' ORDER BY joined_at, node_id $$;\n"
    /* PEER_READ_MEMBER: the member's checks, for the calling node */
    "CREATE FUNCTION kmd_peer_member() RETURNS TABLE (cluster_id text,\n"
    "  ver text, schema text, now float8, nodes bigint, joining bigint,\n"
    "  member text, size bigint, state text, hsm bigint)\n"
    PEER_MEMBER_HEAD
    "  RETURN QUERY SELECT k.cluster_id::text, k.kmd_version,\n"
    PEER_MEMBER_REST
    /*
     * PEER_SUBSCRIBE: this member subscribes to the calling node, under
     * its join's lease, at the host kmd_nodes has for it (the row may
     * still be on its way from the sponsor: a few seconds' wait).
     */
    "CREATE FUNCTION kmd_peer_subscribe(p_token uuid) RETURNS text\n"
    "  LANGUAGE plpgsql SECURITY DEFINER\n"
    "  SET search_path = pg_catalog, public AS $$\n"
    "DECLARE c uuid := kmd_peer(); h text; s text;\n"
    "BEGIN\n"
    "  FOR i IN 1 .. 25 LOOP\n"
    "    SELECT n.host INTO h FROM kmd_nodes n WHERE n.node_id = c AND\n"
    "      n.state IN " NS_SQL_JOINING ";\n"
    "    EXIT WHEN FOUND;\n"
    "    PERFORM pg_sleep(0.2);\n"
    "  END LOOP;\n"
    "  IF h IS NULL THEN\n"
    "    RAISE EXCEPTION 'node % is not joining on this member', c\n"
    "      USING ERRCODE = 'object_not_in_prerequisite_state';\n"
    "  END IF;\n"
    "  PERFORM kmd_join_lease(p_token, c);\n"
    "  s := kmd_sub_name(c, kmd_me());\n"
    "  IF NOT EXISTS (SELECT FROM pglogical.subscription WHERE sub_name =\n"
    "      s) THEN\n"
    "    PERFORM pglogical.create_subscription(subscription_name := s,\n"
    "      provider_dsn := kmd_dsn(h), replication_sets := '{default}',\n"
    "      synchronize_structure := false, synchronize_data := false,\n"
    "      forward_origins := '{}');\n"
    "  END IF;\n"
    "  RETURN '';\n"
    "END $$;\n"
    /* PEER_SUB_STATUS: this member's subscription to the calling node */
    "CREATE FUNCTION kmd_peer_sub_status() RETURNS text LANGUAGE sql\n"
    "  SECURITY DEFINER SET search_path = pg_catalog, public AS $$\n"
    "  SELECT status FROM pglogical.show_subscription_status(\n"
    "    kmd_sub_name(kmd_peer(), kmd_me())) $$;\n"
    /* PEER_SUB_RESTART: the same, restarted (op.c); p_mode: what of it */
    "CREATE FUNCTION kmd_peer_sub_restart(p_mode text) RETURNS text\n"
    "  LANGUAGE plpgsql SECURITY DEFINER\n"
    "  SET search_path = pg_catalog, public AS $$\n"
    "DECLARE s text := kmd_sub_name(kmd_peer(), kmd_me());\n"
    "BEGIN\n"
    "  IF p_mode IN ('both', 'disable') THEN\n"
    "    PERFORM pglogical.alter_subscription_disable(s, true);\n"
    "  END IF;\n"
    "  IF p_mode IN ('both', 'enable') THEN\n"
    "    PERFORM pglogical.alter_subscription_enable(s, true);\n"
    "  END IF;\n"
    "  RETURN '';\n"
    "END $$;\n"
    /* PEER_MARKERS_ADD, PEER_MARKER_ADD, PEER_MARKERS_COUNT */
    "CREATE FUNCTION kmd_peer_marker() RETURNS text LANGUAGE sql\n"
    "  SECURITY DEFINER SET search_path = pg_catalog, public AS $$\n"
    "  INSERT INTO kmd_join_markers (join_id, origin) VALUES (kmd_peer(),\n"
    "    kmd_me()) ON CONFLICT DO NOTHING;\n"
    "  SELECT '' $$;\n"
    "CREATE FUNCTION kmd_peer_markers() RETURNS bigint LANGUAGE sql\n"
    "  STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$\n"
    "  SELECT count(*) FROM kmd_join_markers WHERE join_id = kmd_peer()\n"
    "    AND origin <> kmd_me() $$;\n"
    /*
     * PEER_KILL: the calling node's join killed on its sponsor; this
     * member's subscription to it dropped, unless it is a member.
     */
    "CREATE FUNCTION kmd_peer_kill(p_why text) RETURNS text\n"
    "  LANGUAGE plpgsql SECURITY DEFINER\n"
    "  SET search_path = pg_catalog, public AS $$\n"
    "DECLARE c uuid := kmd_peer();\n"
    "BEGIN\n"
    "  UPDATE kmd_nodes SET state = '" NS_C_KILLED "', join_error =\n"
    "    left(p_why, 1000) WHERE node_id = c AND state IN "
    NS_SQL_JOINING ";\n"
    "  RETURN '';\n"
    "END $$;\n"
    "CREATE FUNCTION kmd_peer_unsubscribe() RETURNS text\n"
    "  LANGUAGE plpgsql SECURITY DEFINER\n"
    "  SET search_path = pg_catalog, public AS $$\n"
    "DECLARE c uuid := kmd_peer();\n"
    "BEGIN\n"
    "  IF EXISTS (SELECT FROM kmd_nodes WHERE node_id = c AND state =\n"
    "      '" NS_C_READY "') THEN\n"
    "    RAISE EXCEPTION 'node % is a member here: its subscription stays',\n"
    "      c USING ERRCODE = 'insufficient_privilege';\n"
    "  END IF;\n"
    "  PERFORM pglogical.drop_subscription(kmd_sub_name(c, kmd_me()),\n"
    "    true);\n"
    "  RETURN '';\n"
    "END $$;\n"
    /*
     * PEER_DRAINED, on a removed node: whether the calling node's
     * subscription here has confirmed this node's fence ('drained'), or
     * its slot is gone.  Only once this node knows it was removed: a
     * peer cannot fence a member.
     */
    "CREATE FUNCTION kmd_peer_drained() RETURNS text\n"
    "  LANGUAGE plpgsql SECURITY DEFINER\n"
    "  SET search_path = pg_catalog, public AS $$\n"
    "DECLARE slot text := kmd_slot_name(kmd_me(), kmd_peer()); f pg_lsn;\n"
    "BEGIN\n"
    "  IF NOT EXISTS (SELECT FROM kmd_nodes WHERE node_id = kmd_me() AND\n"
    "      state = '" NS_C_REMOVED "') THEN\n"
    "    RAISE EXCEPTION 'this node is not removed: nothing to drain'\n"
    "      USING ERRCODE = 'object_not_in_prerequisite_state';\n"
    "  END IF;\n"
    "  IF NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name =\n"
    "      slot) THEN\n"
    "    RETURN 'gone';\n"
    "  END IF;\n"
    "  f := kmd_fence();\n"
    "  RETURN CASE WHEN (SELECT confirmed_flush_lsn FROM\n"
    "    pg_replication_slots WHERE slot_name = slot) >= f THEN 'drained'\n"
    "    ELSE 'behind' END;\n"
    "END $$;\n"
    "REVOKE ALL ON FUNCTION kmd_caller(), kmd_peer(), kmd_me(),\n"
    "  kmd_voters(), kmd_peer_member(), kmd_peer_subscribe(uuid),\n"
    "  kmd_peer_sub_status(), kmd_peer_sub_restart(text),\n"
    "  kmd_peer_marker(), kmd_peer_markers(), kmd_peer_kill(text),\n"
    "  kmd_peer_unsubscribe(), kmd_peer_drained(),\n"
    "  kmd_lease_take(uuid, uuid, text, uuid, bigint, float8, text),\n"
    "  kmd_lease_renew(uuid, float8, text),\n"
    "  kmd_lease_release(uuid, bigint),\n"
    "  kmd_join_register(uuid, uuid, text, text, text, text, text),\n"
    "  kmd_join_stage(uuid, uuid, text),\n"
    "  kmd_join_ready(uuid, uuid, bigint) FROM PUBLIC;\n"
    "GRANT EXECUTE ON FUNCTION kmd_voters(), kmd_peer_member(),\n"
    "  kmd_peer_subscribe(uuid), kmd_peer_sub_status(),\n"
    "  kmd_peer_sub_restart(text), kmd_peer_marker(), kmd_peer_markers(),\n"
    "  kmd_peer_kill(text), kmd_peer_unsubscribe(), kmd_peer_drained(),\n"
    "  kmd_lease_take(uuid, uuid, text, uuid, bigint, float8, text),\n"
    "  kmd_lease_renew(uuid, float8, text),\n"
    "  kmd_lease_release(uuid, bigint),\n"
    "  kmd_join_register(uuid, uuid, text, text, text, text, text),\n"
    "  kmd_join_stage(uuid, uuid, text),\n"
    "  kmd_join_ready(uuid, uuid, bigint) TO kmd_repl;\n";

/*
 * A round reaches every voter at once, over connections the holder's
 * lease session keeps (dblink's named connections): with a fresh TLS
 * connection to each voter in turn, the renewals of a join took longer
 * than the lease on a loaded cluster of 15.  A connection that fails is
 * dropped and made again, once, in the same round (a voter restarted
 * since); a release drops them all, its round being the lease's last.
 */
const char schema_v13[] =
    "CREATE OR REPLACE FUNCTION kmd_lease_round(p_mode text, p_ids uuid[],\n"
    LEASE_ROUND_SIG
    "DECLARE q text; i int; k int; a text; c text[]; e text[];\n"
    "  n int := coalesce(array_length(p_ids, 1), 0);\n"
    "BEGIN\n"
    LEASE_ROUND_QUERY
    "  FOR i IN 1 .. n LOOP\n"
    "    c[i] := 'kmd_lease_' || replace(p_ids[i]::text, '-', '');\n"
    "    FOR k IN 1 .. 2 LOOP\n"
    "      BEGIN\n"
    "        IF NOT c[i] = ANY (coalesce(dblink_get_connections(),\n"
    "            '{}')) THEN\n"
    "          PERFORM dblink_connect(c[i], p_dsns[i]);\n"
    "        END IF;\n"
    "        IF dblink_send_query(c[i], q) <> 1 THEN\n"
    "          RAISE EXCEPTION '%', dblink_error_message(c[i]);\n"
    "        END IF;\n"
    "        e[i] := NULL;\n"
    "        EXIT;\n"
    "      EXCEPTION WHEN OTHERS THEN\n"
    "        e[i] := 'unreachable: ' || split_part(SQLERRM, E'\\n', 1);\n"
    "        PERFORM kmd_lease_drop(c[i]);\n"
    "      END;\n"
    "    END LOOP;\n"
    "  END LOOP;\n"
    "  FOR i IN 1 .. n LOOP\n"
    "    a := e[i];\n"
    "    IF a IS NULL THEN\n"
    "      BEGIN\n"
    "        SELECT t.a INTO a FROM dblink_get_result(c[i]) AS t(a text);\n"
    "        PERFORM FROM dblink_get_result(c[i]) AS t(a text);\n"
    "        a := coalesce(a, 'unreachable: no answer');\n"
    "      EXCEPTION WHEN OTHERS THEN\n"
    "        a := 'unreachable: ' || split_part(SQLERRM, E'\\n', 1);\n"
    "        PERFORM kmd_lease_drop(c[i]);\n"
    "      END;\n"
    "    END IF;\n"
    "    IF p_mode = 'release' THEN\n"
    "      PERFORM kmd_lease_drop(c[i]);\n"
    "    END IF;\n"
    "    node := p_ids[i];\n"
    "    answer := a;\n"
    "    RETURN NEXT;\n"
    "  END LOOP;\n"
    "END $$;\n"
    "CREATE FUNCTION kmd_lease_drop(p_conn text) RETURNS void\n"
    "  LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  IF p_conn = ANY (coalesce(dblink_get_connections(), '{}')) THEN\n"
    "    PERFORM dblink_disconnect(p_conn);\n"
    "  END IF;\n"
    "EXCEPTION WHEN OTHERS THEN\n"
    "  NULL;\n"
    "END $$;\n"
    "REVOKE ALL ON FUNCTION kmd_lease_drop(text) FROM PUBLIC;\n";

/*
 * A change's step holds its grant with FOR KEY SHARE, no longer FOR
 * SHARE: a take by another change, a release and the reaper delete the
 * row (FOR UPDATE, which still waits for the step), but a renewal only
 * updates it (FOR NO KEY UPDATE), which no longer waits behind a step
 * that runs for long (a member's subscription to a joining node is made
 * under its lease): on a loaded cluster that wait let a join's lease
 * lapse while every voter was there.
 *
 * And a join's check of versions: the kmd versions the ready members run
 * now (each writes its own at start), no longer the one cluster new
 * wrote; the joining node must run that one version, so no node joins
 * during an upgrade window.
 */
const char schema_v14[] =
    "CREATE OR REPLACE FUNCTION kmd_lease_check(p_token uuid)\n"
    "  RETURNS boolean LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  PERFORM FROM kmd_lease WHERE token = p_token AND\n"
    "    expires > clock_timestamp() AND kmd_lease_caller(holder)\n"
    "    FOR KEY SHARE;\n"
    "  IF NOT FOUND THEN\n"
    "    RAISE EXCEPTION 'this membership change no longer holds its lease'\n"
    "      ' on this member' USING ERRCODE = 'lock_not_available';\n"
    "  END IF;\n"
    "  RETURN true;\n"
    "END $$;\n"
    "CREATE OR REPLACE FUNCTION kmd_peer_member() RETURNS TABLE\n"
    "  (cluster_id text, ver text, schema text, now float8, nodes bigint,\n"
    "  joining bigint, member text, size bigint, state text, hsm bigint)\n"
    PEER_MEMBER_HEAD
    "  RETURN QUERY SELECT k.cluster_id::text, coalesce((SELECT\n"
    "      string_agg(DISTINCT n.version, ', ' ORDER BY n.version) FROM\n"
    "      kmd_nodes n WHERE n.state = '" NS_C_READY "'), k.kmd_version),\n"
    PEER_MEMBER_REST
    /* nodes list shows this node's schema */
    "GRANT SELECT ON kmd_schema TO kmd_replmon;\n"
    /*
     * cluster upgrade finish (workers/joiner/finish.c) pauses the writes
     * of every node: a statement trigger on each replicated table but the
     * markers takes the pause's lock in share (so that the pause waits
     * for the writes that got in before it), then refuses the write while
     * this node's pause lasts, with a retryable error: it must not wait
     * here, holding its table lock, which the step's ALTER TABLE waits
     * for.  kmd sends such a write again until the pause ends (pq.c).
     * Replication's writes (session_replication_role replica) and the
     * finish's own (kmd.finishing) pass.
     */
    "ALTER TABLE kmd_local ADD COLUMN IF NOT EXISTS paused_until\n"
    "  timestamptz, ADD COLUMN IF NOT EXISTS paused_by uuid;\n"
    "CREATE OR REPLACE FUNCTION kmd_write_pause() RETURNS trigger\n"
    "  LANGUAGE plpgsql SECURITY DEFINER\n"
    "  SET search_path = pg_catalog, public AS $$\n"
    "DECLARE u timestamptz;\n"
    "BEGIN\n"
    "  IF current_setting('kmd.finishing', true) = 'on' THEN\n"
    "    RETURN NULL;\n"
    "  END IF;\n"
    "  PERFORM pg_advisory_xact_lock_shared(" KMD_PAUSE_LOCK ");\n"
    "  SELECT paused_until INTO u FROM kmd_local;\n"
    "  IF u > clock_timestamp() THEN\n"
    "    RAISE EXCEPTION 'writes are paused for a few seconds while the'\n"
    "      ' cluster finishes an upgrade; try again'\n"
    "      USING ERRCODE = 'serialization_failure';\n"
    "  END IF;\n"
    "  RETURN NULL;\n"
    "END $$;\n"
    "DO $$ DECLARE t text; BEGIN\n"
    "  FOR t IN SELECT unnest(" REPLICATED ") EXCEPT\n"
    "      SELECT 'kmd_join_markers' LOOP\n"
    "    EXECUTE format('DROP TRIGGER IF EXISTS kmd_write_pause ON %I', t);\n"
    "    EXECUTE format('CREATE TRIGGER kmd_write_pause BEFORE INSERT OR'\n"
    "      ' UPDATE OR DELETE OR TRUNCATE ON %I FOR EACH STATEMENT'\n"
    "      ' EXECUTE FUNCTION kmd_write_pause()', t);\n"
    "  END LOOP;\n"
    "END $$;\n"
    /*
     * PEER_PAUSE: writes paused here for p_secs at most (under the
     * finish's lease), those under way waited for, and then a marker
     * whose arrival elsewhere says every write made here before it has
     * arrived too.  p_secs 0: the pause this token set, ended (no lease
     * needed: it only ends its own).
     */
    "CREATE OR REPLACE FUNCTION kmd_peer_pause(p_token uuid, p_secs float8)\n"
    "  RETURNS text LANGUAGE plpgsql SECURITY DEFINER\n"
    "  SET search_path = pg_catalog, public AS $$\n"
    "BEGIN\n"
    "  IF p_secs <= 0 THEN\n"
    "    UPDATE kmd_local SET paused_until = NULL, paused_by = NULL\n"
    "      WHERE paused_by = p_token;\n"
    "    RETURN '';\n"
    "  END IF;\n"
    "  PERFORM kmd_lease_check(p_token);\n"
    "  IF NOT EXISTS (SELECT FROM kmd_lease WHERE token = p_token AND\n"
    "      kind = '" FINISH_KIND "') THEN\n"
    "    RAISE EXCEPTION 'only cluster upgrade finish pauses writes'\n"
    "      USING ERRCODE = 'insufficient_privilege';\n"
    "  END IF;\n"
    "  UPDATE kmd_local SET paused_until = clock_timestamp() +\n"
    "    least(p_secs, 60) * interval '1 second', paused_by = p_token;\n"
    "  PERFORM pg_advisory_xact_lock(" KMD_PAUSE_LOCK ");\n"
    "  INSERT INTO kmd_join_markers (join_id, origin) VALUES (p_token,\n"
    "    kmd_me()) ON CONFLICT DO NOTHING;\n"
    "  RETURN '';\n"
    "END $$;\n"
    /* PEER_PAUSE_MARKS: the other nodes' markers of that pause here */
    "CREATE OR REPLACE FUNCTION kmd_peer_pause_marks(p_token uuid)\n"
    "  RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER\n"
    "  SET search_path = pg_catalog, public AS $$\n"
    "  SELECT count(*) FROM kmd_join_markers WHERE join_id = p_token AND\n"
    "    origin <> kmd_me() $$;\n"
    /* PEER_SCHEMA: this node's schema, once the finish's step is here */
    "CREATE OR REPLACE FUNCTION kmd_peer_schema() RETURNS int\n"
    "  LANGUAGE sql STABLE SECURITY DEFINER\n"
    "  SET search_path = pg_catalog, public AS $$\n"
    "  SELECT version FROM kmd_schema $$;\n"
    "REVOKE ALL ON FUNCTION kmd_write_pause(), kmd_peer_pause(uuid, float8),\n"
    "  kmd_peer_pause_marks(uuid), kmd_peer_schema() FROM PUBLIC;\n"
    "GRANT EXECUTE ON FUNCTION kmd_peer_pause(uuid, float8),\n"
    "  kmd_peer_pause_marks(uuid), kmd_peer_schema() TO kmd_repl;\n";
