// policy_store.cpp - revisions of the managed policy: snapshots, entry changes, conflicts.
#include "store/policy_store.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <unordered_map>

namespace policer::store {
namespace {

constexpr std::string_view kConflictPrefix = "policy conflict: ";

int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

Status validate(const std::vector<PolicyEntry> &entries) {
    static const std::set<std::string, std::less<>> kinds = {"rule", "list", "macro", "setting"};
    std::set<std::string_view> names;
    for (const PolicyEntry &e : entries) {
        if (e.name.empty()) return Error{"a policy entry needs a name"};
        if (!kinds.count(e.kind))
            return Error{"policy entry \"" + e.name + "\": unknown kind \"" + e.kind +
                         "\" (expected rule, list, macro or setting)"};
        if (!names.insert(e.name).second)
            return Error{"policy entry \"" + e.name + "\" appears twice"};
    }
    return Ok{};
}

EntryState state_of(const PolicyEntry &e) {
    return EntryState{e.kind, e.text, e.enabled};
}

// Binds an optional state to three parameters starting at `index`.
Status bind_state(Statement &stmt, int index, const std::optional<EntryState> &state) {
    if (!state) {
        for (int i = 0; i < 3; ++i)
            if (auto bound = stmt.bind_null(index + i); !bound) return bound;
        return Ok{};
    }
    if (auto bound = stmt.bind(index, state->kind); !bound) return bound;
    if (auto bound = stmt.bind(index + 1, state->text); !bound) return bound;
    return stmt.bind(index + 2, state->enabled);
}

std::optional<EntryState> read_state(const Statement &stmt, int column) {
    if (stmt.column_is_null(column)) return std::nullopt;
    return EntryState{stmt.column_text(column), stmt.column_text(column + 1),
                      stmt.column_int(column + 2) != 0};
}

// The names both lists hold, in the order of `in`.
std::vector<std::string_view> common_names(const std::vector<PolicyEntry> &in,
                                           const std::vector<PolicyEntry> &other) {
    std::set<std::string_view> others;
    for (const PolicyEntry &e : other)
        others.insert(e.name);
    std::vector<std::string_view> names;
    for (const PolicyEntry &e : in)
        if (others.count(e.name)) names.push_back(e.name);
    return names;
}

Result<std::vector<PolicyEntry>> load_entries(Database &db, int64_t revision) {
    auto stmt = db.prepare("SELECT name, kind, text, enabled FROM policy_entries "
                           "WHERE revision = ? ORDER BY position");
    if (!stmt) return stmt.error();
    if (auto bound = stmt->bind(1, revision); !bound) return bound.error();
    std::vector<PolicyEntry> entries;
    Status read = stmt->each_row([&entries](Statement &s) {
        entries.push_back(PolicyEntry{s.column_text(0), s.column_text(1), s.column_text(2),
                                      s.column_int(3) != 0});
        return true;
    });
    if (!read) return read.error();
    return entries;
}

} // namespace

std::vector<EntryChange> entry_changes(const std::vector<PolicyEntry> &from,
                                       const std::vector<PolicyEntry> &to) {
    std::unordered_map<std::string_view, const PolicyEntry *> before, after;
    for (const PolicyEntry &e : from)
        before.emplace(e.name, &e);
    for (const PolicyEntry &e : to)
        after.emplace(e.name, &e);

    std::vector<EntryChange> changes;
    for (const PolicyEntry &e : to) {
        auto old = before.find(e.name);
        if (old == before.end())
            changes.push_back(EntryChange{e.name, std::nullopt, state_of(e)});
        else if (!(state_of(*old->second) == state_of(e)))
            changes.push_back(EntryChange{e.name, state_of(*old->second), state_of(e)});
    }
    for (const PolicyEntry &e : from)
        if (!after.count(e.name)) changes.push_back(EntryChange{e.name, state_of(e), std::nullopt});
    return changes;
}

bool is_conflict(const Error &error) {
    return error.message.compare(0, kConflictPrefix.size(), kConflictPrefix) == 0;
}

Result<int64_t> PolicyStore::latest_revision() {
    return db_.query_int("SELECT coalesce(max(revision), 0) FROM policy_revisions");
}

Result<Policy> PolicyStore::current() {
    // One read transaction: the revision number and its entries from the same snapshot.
    auto tx = Transaction::begin(db_, Transaction::Kind::Deferred);
    if (!tx) return tx.error();
    auto latest = latest_revision();
    if (!latest) return latest.error();
    auto entries = load_entries(db_, *latest);
    if (!entries) return entries.error();
    if (auto done = tx->commit(); !done) return done.error();
    return Policy{*latest, std::move(*entries)};
}

Result<int64_t> PolicyStore::commit(int64_t expected_revision,
                                    const std::vector<PolicyEntry> &entries, const Actor &actor,
                                    std::string_view action, std::string_view summary) {
    return record(expected_revision, entries, actor, action, summary, std::nullopt);
}

Result<int64_t> PolicyStore::rollback(int64_t expected_revision, int64_t target, const Actor &actor,
                                      std::string_view summary) {
    // A stored revision never changes: reading it outside the commit's transaction is safe.
    auto snapshot = revision(target);
    if (!snapshot) return snapshot.error();
    std::string text(summary);
    if (text.empty()) text = "rollback to revision " + std::to_string(target);
    return record(expected_revision, snapshot->entries, actor, "rollback", text, target);
}

Result<int64_t> PolicyStore::record(int64_t expected_revision,
                                    const std::vector<PolicyEntry> &entries, const Actor &actor,
                                    std::string_view action, std::string_view summary,
                                    std::optional<int64_t> rollback_of) {
    if (auto valid = validate(entries); !valid) return valid.error();
    if (action.empty()) return Error{"a policy change needs an action"};

    // IMMEDIATE: the write lock is ours before the revision is read, so no other commit can
    // slip in between the check and the write.
    auto tx = Transaction::begin(db_, Transaction::Kind::Immediate);
    if (!tx) return tx.error();
    auto latest = latest_revision();
    if (!latest) return latest.error();
    if (*latest != expected_revision)
        return Error{std::string(kConflictPrefix) + "the policy is at revision " +
                     std::to_string(*latest) + ", the change was made against revision " +
                     std::to_string(expected_revision) + "; reload it and try again"};
    auto previous = load_entries(db_, *latest);
    if (!previous) return previous.error();
    const int64_t revision = *latest + 1;

    auto head = db_.prepare("INSERT INTO policy_revisions (revision, time_ms, actor_uid, "
                            "actor_gid, actor_pid, actor_user, action, summary, rollback_of) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!head) return head.error();
    if (auto bound = head->bind_all(revision, now_ms(), actor.uid, actor.gid, actor.pid, actor.user,
                                    action, summary, rollback_of);
        !bound)
        return bound.error();
    if (auto done = head->run(); !done) return done.error();

    auto entry = db_.prepare("INSERT INTO policy_entries (revision, position, name, kind, text, "
                             "enabled) VALUES (?, ?, ?, ?, ?, ?)");
    if (!entry) return entry.error();
    for (size_t i = 0; i < entries.size(); ++i) {
        const PolicyEntry &e = entries[i];
        entry->reset();
        if (auto bound = entry->bind_all(revision, i, e.name, e.kind, e.text, e.enabled); !bound)
            return bound.error();
        if (auto done = entry->run(); !done) return done.error();
    }

    auto change = db_.prepare("INSERT INTO policy_changes (revision, seq, name, before_kind, "
                              "before_text, before_enabled, after_kind, after_text, "
                              "after_enabled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!change) return change.error();
    std::vector<EntryChange> changes = entry_changes(*previous, entries);
    for (size_t i = 0; i < changes.size(); ++i) {
        change->reset();
        if (auto bound = change->bind_all(revision, i, changes[i].name); !bound)
            return bound.error();
        if (auto bound = bind_state(*change, 4, changes[i].before); !bound) return bound.error();
        if (auto bound = bind_state(*change, 7, changes[i].after); !bound) return bound.error();
        if (auto done = change->run(); !done) return done.error();
    }

    if (auto done = tx->commit(); !done) return done.error();
    return revision;
}

Result<std::vector<EntryChange>>
PolicyStore::changes_of(int64_t revision, const std::optional<std::string> &entry_name) {
    std::string sql = "SELECT name, before_kind, before_text, before_enabled, after_kind, "
                      "after_text, after_enabled FROM policy_changes WHERE revision = ?";
    if (entry_name) sql += " AND name = ?";
    sql += " ORDER BY seq";
    auto stmt = db_.prepare(sql);
    if (!stmt) return stmt.error();
    if (auto bound = stmt->bind(1, revision); !bound) return bound.error();
    if (entry_name)
        if (auto bound = stmt->bind(2, *entry_name); !bound) return bound.error();
    std::vector<EntryChange> changes;
    Status read = stmt->each_row([&changes](Statement &s) {
        changes.push_back(EntryChange{s.column_text(0), read_state(s, 1), read_state(s, 4)});
        return true;
    });
    if (!read) return read.error();
    return changes;
}

Result<std::vector<RevisionInfo>>
PolicyStore::history(size_t limit, const std::optional<std::string> &entry_name) {
    std::string sql = "SELECT revision, time_ms, actor_uid, actor_gid, actor_pid, actor_user, "
                      "action, summary, rollback_of FROM policy_revisions";
    if (entry_name)
        sql += " WHERE revision IN (SELECT revision FROM policy_changes WHERE name = ?)";
    sql += " ORDER BY revision DESC LIMIT ?";

    auto tx = Transaction::begin(db_, Transaction::Kind::Deferred);
    if (!tx) return tx.error();
    auto stmt = db_.prepare(sql);
    if (!stmt) return stmt.error();
    int index = 1;
    if (entry_name)
        if (auto bound = stmt->bind(index++, *entry_name); !bound) return bound.error();
    // LIMIT -1: no limit.
    if (auto bound = stmt->bind(index, limit == 0 ? int64_t{-1} : static_cast<int64_t>(limit));
        !bound)
        return bound.error();

    std::vector<RevisionInfo> revisions;
    Status read = stmt->each_row([&revisions](Statement &s) {
        RevisionInfo info;
        info.revision = s.column_int(0);
        info.time_ms = s.column_int(1);
        info.actor = Actor{s.column_int(2), s.column_int(3), s.column_int(4), s.column_text(5)};
        info.action = s.column_text(6);
        info.summary = s.column_text(7);
        info.rollback_of = s.column_optional_int(8);
        revisions.push_back(std::move(info));
        return true;
    });
    if (!read) return read.error();
    for (RevisionInfo &info : revisions) {
        auto changes = changes_of(info.revision, entry_name);
        if (!changes) return changes.error();
        info.changes = std::move(*changes);
    }
    if (auto done = tx->commit(); !done) return done.error();
    return revisions;
}

Result<Policy> PolicyStore::revision(int64_t n) {
    if (n == 0) return Policy{};
    auto stmt = db_.prepare("SELECT 1 FROM policy_revisions WHERE revision = ?");
    if (!stmt) return stmt.error();
    if (auto bound = stmt->bind(1, n); !bound) return bound.error();
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) {
        auto latest = latest_revision();
        return Error{"no policy revision " + std::to_string(n) +
                     (latest ? " (the latest is " + std::to_string(*latest) + ")" : "")};
    }
    auto entries = load_entries(db_, n);
    if (!entries) return entries.error();
    return Policy{n, std::move(*entries)};
}

Result<PolicyDiff> PolicyStore::diff(int64_t a, int64_t b) {
    auto from = revision(a);
    if (!from) return from.error();
    auto to = revision(b);
    if (!to) return to.error();
    PolicyDiff diff;
    diff.from = a;
    diff.to = b;
    diff.changes = entry_changes(from->entries, to->entries);
    diff.order_changed =
        common_names(from->entries, to->entries) != common_names(to->entries, from->entries);
    return diff;
}

} // namespace policer::store
