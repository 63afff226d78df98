// policy_store.h - the managed policy and its complete history. The policy is an ordered list
// of named entries (rules, lists, macros, settings) whose text is rule-language source, opaque
// here. Every change is a numbered revision saying who made it, when, why, what each entry was
// before and after, and the whole policy as it then stood - so any revision can be restored
// exactly. Retention never deletes history.
#pragma once

#include "common/result.h"
#include "store/database.h"
#include "store/schema.h" // open_store(): the Database this store works on

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace policer::store {

struct PolicyEntry {
    std::string name; // unique within a policy
    std::string kind; // "rule", "list", "macro" or "setting"
    std::string text; // rule-language source of the item
    bool enabled = true;

    bool operator==(const PolicyEntry &o) const {
        return name == o.name && kind == o.kind && text == o.text && enabled == o.enabled;
    }
    bool operator!=(const PolicyEntry &o) const { return !(*this == o); }
};

// Who made a change: the control socket's peer credentials, as the caller read them.
struct Actor {
    int64_t uid = 0;
    int64_t gid = 0;
    int64_t pid = 0;
    std::string user;
};

struct Policy {
    int64_t revision = 0; // 0: the empty policy before the first commit
    std::vector<PolicyEntry> entries;
};

// An entry's content at one revision.
struct EntryState {
    std::string kind;
    std::string text;
    bool enabled = true;

    bool operator==(const EntryState &o) const {
        return kind == o.kind && text == o.text && enabled == o.enabled;
    }
};

// One entry's change: no `before` = added, no `after` = removed. A change of position alone
// is not an entry change (see PolicyDiff::order_changed).
struct EntryChange {
    std::string name;
    std::optional<EntryState> before;
    std::optional<EntryState> after;
};

struct RevisionInfo {
    int64_t revision = 0;
    int64_t time_ms = 0; // wall clock, unix ms
    Actor actor;
    std::string action;
    std::string summary;
    std::optional<int64_t> rollback_of; // the revision a rollback restored
    std::vector<EntryChange> changes;
};

struct PolicyDiff {
    int64_t from = 0;
    int64_t to = 0;
    std::vector<EntryChange> changes; // in the order of `to`, then the removed entries
    bool order_changed = false;       // entries present in both are ordered differently
};

// The entry changes that turn `from` into `to` (what PolicyDiff::changes holds).
std::vector<EntryChange> entry_changes(const std::vector<PolicyEntry> &from,
                                       const std::vector<PolicyEntry> &to);

// The message of a commit refused because the policy moved on is recognised by is_conflict().
bool is_conflict(const Error &error);

class PolicyStore {
public:
    explicit PolicyStore(Database &db) : db_(db) {}

    // The latest revision and its entries.
    Result<Policy> current();

    // Records `entries` as the new policy, if the current revision is still
    // `expected_revision` (optimistic concurrency: a caller that read revision N and computed
    // its change from it commits against N); otherwise fails with an error is_conflict()
    // recognises. Entries need unique non-empty names and a known kind. Returns the new
    // revision number.
    Result<int64_t> commit(int64_t expected_revision, const std::vector<PolicyEntry> &entries,
                           const Actor &actor, std::string_view action, std::string_view summary);

    // Restores the entries of revision `target` exactly, as a new revision with action
    // "rollback" (the same conflict rule as commit). An empty summary says which revision.
    Result<int64_t> rollback(int64_t expected_revision, int64_t target, const Actor &actor,
                             std::string_view summary = {});

    // Newest first, at most `limit` revisions (0: all). With `entry_name`, only the revisions
    // that changed that entry, each with that entry's change only.
    Result<std::vector<RevisionInfo>> history(size_t limit,
                                              const std::optional<std::string> &entry_name = {});

    // The policy as it stood at revision n (0: empty). An error if there is no such revision.
    Result<Policy> revision(int64_t n);

    // What changed from revision a to revision b (either may be older).
    Result<PolicyDiff> diff(int64_t a, int64_t b);

private:
    Result<int64_t> latest_revision();
    Result<int64_t> record(int64_t expected_revision, const std::vector<PolicyEntry> &entries,
                           const Actor &actor, std::string_view action, std::string_view summary,
                           std::optional<int64_t> rollback_of);
    Result<std::vector<EntryChange>> changes_of(int64_t revision,
                                                const std::optional<std::string> &entry_name);

    Database &db_;
};

} // namespace policer::store
