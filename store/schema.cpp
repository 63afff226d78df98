// schema.cpp - migration 1: policy revisions, flows, alerts. A released migration is never
// edited: a change of schema is a new migration appended to the list.
#include "store/schema.h"

namespace policer::store {
namespace {

constexpr std::string_view kInitialSchema = R"sql(
-- One row per change of the managed policy. Revision 0 (the empty policy) has no row.
CREATE TABLE policy_revisions (
    revision    INTEGER PRIMARY KEY,
    time_ms     INTEGER NOT NULL,          -- wall clock, unix ms
    actor_uid   INTEGER NOT NULL,          -- control-socket peer credentials
    actor_gid   INTEGER NOT NULL,
    actor_pid   INTEGER NOT NULL,
    actor_user  TEXT    NOT NULL,
    action      TEXT    NOT NULL,          -- add, rm, enable, disable, import, rollback, ...
    summary     TEXT    NOT NULL,
    rollback_of INTEGER                    -- the revision restored by a rollback
);

-- The complete policy as of each revision, in order: a rollback restores it exactly.
CREATE TABLE policy_entries (
    revision INTEGER NOT NULL REFERENCES policy_revisions (revision),
    position INTEGER NOT NULL,
    name     TEXT    NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('rule', 'list', 'macro', 'setting')),
    text     TEXT    NOT NULL,
    enabled  INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    PRIMARY KEY (revision, position),
    UNIQUE (revision, name)
) WITHOUT ROWID;

-- What each revision changed, entry by entry; NULL before = added, NULL after = removed.
CREATE TABLE policy_changes (
    revision       INTEGER NOT NULL REFERENCES policy_revisions (revision),
    seq            INTEGER NOT NULL,
    name           TEXT    NOT NULL,
    before_kind    TEXT,
    before_text    TEXT,
    before_enabled INTEGER,
    after_kind     TEXT,
    after_text     TEXT,
    after_enabled  INTEGER,
    PRIMARY KEY (revision, seq)
) WITHOUT ROWID;
CREATE INDEX policy_changes_by_name ON policy_changes (name, revision);

-- One row per ended flow. NULL: not known.
CREATE TABLE flows (
    id             INTEGER PRIMARY KEY,
    start_ms       INTEGER,                -- wall clock, unix ms
    end_ms         INTEGER NOT NULL,
    uid            INTEGER,
    user_name      TEXT,
    pid            INTEGER,
    exe            TEXT,
    container_id   TEXT,
    container_name TEXT,
    cgroup_path    TEXT,
    l4_proto       TEXT,                   -- tcp, udp
    src_ip         TEXT,
    src_port       INTEGER,
    dst_ip         TEXT,
    dst_port       INTEGER,
    direction      TEXT,                   -- egress, ingress
    l7_proto       TEXT,
    domain         TEXT,
    action         TEXT,                   -- the verdict
    rule           TEXT,
    bytes_in       INTEGER,                -- received by this host
    bytes_out      INTEGER,                -- sent by this host
    packets_in     INTEGER,
    packets_out    INTEGER,
    event          TEXT NOT NULL           -- the flow-end event, ECS JSON
);
CREATE INDEX flows_by_end ON flows (end_ms);
CREATE INDEX flows_by_uid ON flows (uid, end_ms);
CREATE INDEX flows_by_exe ON flows (exe, end_ms);
CREATE INDEX flows_by_dst_ip ON flows (dst_ip, end_ms);
CREATE INDEX flows_by_domain ON flows (domain, end_ms);
CREATE INDEX flows_by_rule ON flows (rule, end_ms);

CREATE TABLE alerts (
    id       INTEGER PRIMARY KEY,
    time_ms  INTEGER NOT NULL,             -- wall clock, unix ms
    rule     TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    severity INTEGER,
    outcome  TEXT,
    summary  TEXT    NOT NULL,
    event    TEXT    NOT NULL              -- the event that raised it, ECS JSON
);
CREATE INDEX alerts_by_time ON alerts (time_ms);
CREATE INDEX alerts_by_rule ON alerts (rule, time_ms);
)sql";

} // namespace

const Schema &store_schema() {
    static const Schema schema{kApplicationId,
                               {
                                   {1, "policy history, flows, alerts", kInitialSchema},
                               }};
    return schema;
}

Result<Database> open_store(const std::string &path, const OpenOptions &options) {
    return Database::open(path, store_schema(), options);
}

} // namespace policer::store
