// store_policy_test.cpp - the managed policy's history: commits against a revision, conflicts,
// who changed what, and a rollback that restores exactly the entries of an earlier revision.
#include "store/policy_store.h"
#include "store/schema.h"

#include "store_test_support.h"

#include <doctest/doctest.h>

namespace {

using namespace policer::store;
using store_test::TempDir;
using store_test::why;

const Actor kAlice{1000, 1000, 4242, "alice"};
const Actor kRoot{0, 0, 77, "root"};

PolicyEntry rule(const std::string &name, const std::string &text, bool enabled = true) {
    return PolicyEntry{name, "rule", text, enabled};
}

} // namespace

TEST_CASE("store policy: revision 0 is the empty policy") {
    TempDir dir;
    auto db = open_store(dir.file("p.db"));
    REQUIRE(db.ok());
    PolicyStore store(*db);
    auto now = store.current();
    REQUIRE(now.ok());
    CHECK(now->revision == 0);
    CHECK(now->entries.empty());
    CHECK(store.revision(0).value().entries.empty());
    CHECK(store.history(10).value().empty());
    auto missing = store.revision(3);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message.find("no policy revision 3") != std::string::npos);
}

TEST_CASE("store policy: commits, conflicts, history, diff and rollback") {
    TempDir dir;
    const std::string path = dir.file("p.db");
    auto db = open_store(path);
    REQUIRE(db.ok());
    PolicyStore store(*db);

    const std::vector<PolicyEntry> r1 = {
        PolicyEntry{"admins", "list", "list admins = (alice, bob)", true},
        rule("ssh-admins", "allow user.name in admins and dst.port == 22"),
        rule("no-telnet", "deny dst.port == 23"),
    };
    auto rev1 = store.commit(0, r1, kAlice, "import", "initial policy");
    REQUIRE_MESSAGE(rev1.ok(), why(rev1));
    CHECK(*rev1 == 1);

    std::vector<PolicyEntry> r2 = r1;
    r2[2].enabled = false;                                         // disable
    r2.push_back(rule("web", "allow dst.port in (80, 443)"));      // add
    r2[1].text = "allow user.name in admins and dst.port == 2222"; // edit
    auto rev2 = store.commit(1, r2, kRoot, "edit", "port move, web");
    REQUIRE_MESSAGE(rev2.ok(), why(rev2));
    CHECK(*rev2 == 2);

    SUBCASE("a commit against an old revision is a conflict and changes nothing") {
        auto stale = store.commit(1, r1, kAlice, "rm", "from an old view");
        REQUIRE_FALSE(stale.ok());
        CHECK(is_conflict(stale.error()));
        CHECK(stale.error().message.find("revision 2") != std::string::npos);
        CHECK(store.current().value().revision == 2);
        CHECK(store.current().value().entries == r2);
        CHECK_FALSE(is_conflict(store.commit(2, {rule("", "x")}, kAlice, "add", "").error()));
    }

    SUBCASE("invalid entries are refused") {
        CHECK_FALSE(store.commit(2, {rule("a", "x"), rule("a", "y")}, kAlice, "add", "").ok());
        CHECK_FALSE(
            store.commit(2, {PolicyEntry{"a", "bogus", "x", true}}, kAlice, "add", "").ok());
        CHECK(store.current().value().revision == 2);
    }

    SUBCASE("the current policy is the last commit, in order") {
        auto now = store.current();
        REQUIRE(now.ok());
        CHECK(now->revision == 2);
        CHECK(now->entries == r2);
        CHECK(store.revision(1).value().entries == r1);
    }

    SUBCASE("history says who changed what, newest first") {
        auto history = store.history(10);
        REQUIRE(history.ok());
        REQUIRE(history->size() == 2);
        const RevisionInfo &latest = (*history)[0];
        CHECK(latest.revision == 2);
        CHECK(latest.actor.uid == 0);
        CHECK(latest.actor.pid == 77);
        CHECK(latest.actor.user == "root");
        CHECK(latest.action == "edit");
        CHECK(latest.summary == "port move, web");
        CHECK(latest.time_ms > 1600000000000);
        REQUIRE(latest.changes.size() == 3);
        // In the new policy's order: the edit, the disable, the addition.
        CHECK(latest.changes[0].name == "ssh-admins");
        CHECK(latest.changes[0].before->text.find("== 22") != std::string::npos);
        CHECK(latest.changes[0].after->text.find("== 2222") != std::string::npos);
        CHECK(latest.changes[1].name == "no-telnet");
        CHECK(latest.changes[1].before->enabled);
        CHECK_FALSE(latest.changes[1].after->enabled);
        CHECK(latest.changes[2].name == "web");
        CHECK_FALSE(latest.changes[2].before.has_value());

        const RevisionInfo &first = (*history)[1];
        CHECK(first.actor.user == "alice");
        CHECK(first.actor.gid == 1000);
        CHECK(first.action == "import");
        CHECK(first.changes.size() == 3);

        CHECK(store.history(1).value().size() == 1);

        auto of_web = store.history(0, std::string("web"));
        REQUIRE(of_web.ok());
        REQUIRE(of_web->size() == 1);
        CHECK((*of_web)[0].revision == 2);
        REQUIRE((*of_web)[0].changes.size() == 1);
        CHECK((*of_web)[0].changes[0].name == "web");
        CHECK(store.history(0, std::string("admins")).value().size() == 1);
    }

    SUBCASE("diff between any two revisions") {
        auto d = store.diff(1, 2);
        REQUIRE(d.ok());
        CHECK(d->changes.size() == 3);
        CHECK_FALSE(d->order_changed);
        auto back = store.diff(2, 0);
        REQUIRE(back.ok());
        CHECK(back->changes.size() == 4);
        for (const EntryChange &c : back->changes)
            CHECK_FALSE(c.after.has_value());
    }

    SUBCASE("rollback restores the exact entries of an old revision as a new revision") {
        std::vector<PolicyEntry> r3 = {r2[3], r2[0]}; // reorder, remove two
        REQUIRE(store.commit(2, r3, kAlice, "rm", "trim").ok());
        CHECK(store.diff(2, 3).value().order_changed);

        auto rolled = store.rollback(3, 1, kRoot);
        REQUIRE_MESSAGE(rolled.ok(), why(rolled));
        CHECK(*rolled == 4);
        CHECK(store.current().value().entries == r1);
        CHECK(store.revision(4).value().entries == r1);
        CHECK(store.diff(1, 4).value().changes.empty());

        auto history = store.history(1);
        REQUIRE(history.ok());
        CHECK((*history)[0].action == "rollback");
        CHECK((*history)[0].rollback_of == 1);
        CHECK((*history)[0].summary == "rollback to revision 1");
        // Nothing is lost: the rolled-back revisions are still there.
        CHECK(store.revision(3).value().entries == r3);
        CHECK(store.history(0).value().size() == 4);

        CHECK(is_conflict(store.rollback(3, 2, kRoot).error()));
        CHECK_FALSE(store.rollback(4, 17, kRoot).ok());
    }

    SUBCASE("the history survives reopening the database") {
        db = policer::Result<Database>(policer::Error{"closed"}); // closes the connection
        auto reopened = open_store(path);
        REQUIRE(reopened.ok());
        PolicyStore again(*reopened);
        CHECK(again.current().value().revision == 2);
        CHECK(again.current().value().entries == r2);
        CHECK(again.history(0).value().size() == 2);
    }
}

TEST_CASE("store policy: two connections committing against the same revision - one wins") {
    TempDir dir;
    const std::string path = dir.file("p.db");
    auto a = open_store(path);
    auto b = open_store(path);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    PolicyStore store_a(*a), store_b(*b);
    REQUIRE(store_a.commit(0, {rule("x", "deny dst.port == 1")}, kAlice, "add", "").ok());

    auto seen_a = store_a.current().value().revision;
    auto seen_b = store_b.current().value().revision;
    CHECK(store_a.commit(seen_a, {rule("y", "deny dst.port == 2")}, kAlice, "add", "").ok());
    auto lost = store_b.commit(seen_b, {rule("z", "deny dst.port == 3")}, kRoot, "add", "");
    REQUIRE_FALSE(lost.ok());
    CHECK(is_conflict(lost.error()));
    CHECK(store_b.current().value().entries ==
          std::vector<PolicyEntry>{rule("y", "deny dst.port == 2")});
}

TEST_CASE("store policy: entry_changes compares by name") {
    std::vector<PolicyEntry> from = {rule("a", "1"), rule("b", "2"), rule("c", "3")};
    std::vector<PolicyEntry> to = {rule("c", "3"), rule("a", "1", false), rule("d", "4")};
    auto changes = entry_changes(from, to);
    REQUIRE(changes.size() == 3);
    CHECK(changes[0].name == "a");
    CHECK(changes[1].name == "d");
    CHECK(changes[2].name == "b");
    CHECK_FALSE(changes[2].after.has_value());
}
